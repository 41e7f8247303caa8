/**
 * CKR_* return values (PKCS#11 Base v2.40 §5.1, Table 1) become typed {@link CardwrightError}s
 * with a `PKCS11_*` code and `details.ckr` naming the return value. PINs are never part of the
 * message: pkcs11js error messages carry only the CKR name and number, and we add our own context.
 */
import { CardwrightError, type ErrorCode, type ErrorDetails } from "@cardwright/core";

/** Return values grouped by what the caller should do about them. */
const CODE_OF_CKR: Readonly<Record<string, ErrorCode>> = {
  CKR_PIN_INCORRECT: "PKCS11_PIN_INCORRECT",
  CKR_PIN_LOCKED: "PKCS11_PIN_LOCKED",
  CKR_PIN_EXPIRED: "PKCS11_PIN_LOCKED",
  CKR_PIN_INVALID: "PKCS11_PIN_INVALID",
  CKR_PIN_LEN_RANGE: "PKCS11_PIN_INVALID",
  CKR_USER_NOT_LOGGED_IN: "PKCS11_NOT_LOGGED_IN",
  CKR_USER_PIN_NOT_INITIALIZED: "PKCS11_NOT_LOGGED_IN",
  CKR_TOKEN_NOT_PRESENT: "PKCS11_TOKEN_NOT_PRESENT",
  CKR_TOKEN_NOT_RECOGNIZED: "PKCS11_TOKEN_NOT_PRESENT",
  CKR_DEVICE_REMOVED: "PKCS11_TOKEN_NOT_PRESENT",
  CKR_SLOT_ID_INVALID: "PKCS11_TOKEN_NOT_PRESENT",
  CKR_SESSION_HANDLE_INVALID: "PKCS11_TOKEN_NOT_PRESENT",
  CKR_SESSION_CLOSED: "PKCS11_TOKEN_NOT_PRESENT",
  CKR_CRYPTOKI_NOT_INITIALIZED: "PKCS11_MODULE",
  CKR_MECHANISM_INVALID: "DEVICE_CAPABILITY",
  CKR_MECHANISM_PARAM_INVALID: "DEVICE_CAPABILITY",
  CKR_FUNCTION_NOT_SUPPORTED: "DEVICE_CAPABILITY",
  CKR_KEY_SIZE_RANGE: "DEVICE_CAPABILITY",
  CKR_CURVE_NOT_SUPPORTED: "DEVICE_CAPABILITY",
  CKR_TEMPLATE_INCONSISTENT: "DEVICE_CAPABILITY",
};

/** What to do next, per code; the message ends with it. */
const ADVICE: Partial<Record<ErrorCode, string>> = {
  PKCS11_PIN_INCORRECT: "check the PIN; each wrong try may count towards locking it",
  PKCS11_PIN_LOCKED: "the PIN is locked: unblock it with the SO PIN (C_InitPIN) or re-initialise the token",
  PKCS11_PIN_INVALID: "the new PIN breaks the token's length or character rules (see its minPinLen/maxPinLen)",
  PKCS11_NOT_LOGGED_IN: "log in first (verify the PIN, or authenticate as SO for administrative changes)",
  PKCS11_TOKEN_NOT_PRESENT: "the token was removed or its slot vanished: insert it and open it again",
  PKCS11_MODULE: "the PKCS#11 module is not usable: check its path and configuration",
  DEVICE_CAPABILITY: "the token or module does not support this",
  PKCS11_FUNCTION_FAILED: "the module refused the call; see details.ckr",
};

/** The CKR name and number of a pkcs11js `Pkcs11Error`, if `err` is one. */
export function ckrOf(err: unknown): { name: string; value: number } | undefined {
  if (!(err instanceof Error)) return undefined;
  const m = /(CKR_[A-Z0-9_]+)(?::(\d+))?/.exec(err.message);
  if (m === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return { name: m[1] as string, value: typeof code === "number" ? code : Number(m[2] ?? 0) };
}

/** True when `err` is the PKCS#11 return value `name`. */
export function isCkr(err: unknown, name: string): boolean {
  return ckrOf(err)?.name === name;
}

/**
 * Turn anything a PKCS#11 call threw into a {@link CardwrightError} with `context` (short,
 * lowercase: "generating the key pair"). A CardwrightError keeps its code; a CKR_* becomes the
 * matching `PKCS11_*` code (or `PKCS11_FUNCTION_FAILED`); anything else `PKCS11_MODULE`.
 */
export function pkcs11Error(err: unknown, context: string, details: ErrorDetails = {}): CardwrightError {
  if (err instanceof CardwrightError) {
    const wrapped = new CardwrightError(err.code, `${context}: ${err.message}`, {
      details: { ...err.details, ...details },
      cause: err,
    });
    Object.defineProperty(wrapped, "name", { value: err.name });
    return wrapped;
  }
  const ckr = ckrOf(err);
  if (ckr === undefined) {
    const message = err instanceof Error ? err.message : String(err);
    return new CardwrightError("PKCS11_MODULE", `${context}: ${message}`, { details, cause: err });
  }
  const code = CODE_OF_CKR[ckr.name] ?? "PKCS11_FUNCTION_FAILED";
  const advice = ADVICE[code];
  return new CardwrightError(code, `${context}: ${ckr.name}${advice === undefined ? "" : `; ${advice}`}`, {
    details: { ...details, ckr: ckr.name },
    cause: err,
  });
}

/** A {@link CardwrightError} `DEVICE_CAPABILITY` for what this token or its profile cannot do. */
export function capabilityError(message: string, details: ErrorDetails = {}): CardwrightError {
  return new CardwrightError("DEVICE_CAPABILITY", message, { details });
}
