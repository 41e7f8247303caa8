/**
 * The store's metadata file, `cardwright-store.json`: the store's stable serial (its device
 * identity), its scope, the iteration count its files use, and a PBKDF2 password check so a wrong
 * password is refused at open, even while the store holds no PKCS#12 file whose MAC could tell.
 */
import { pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { corrupt, unavailable, wrongPassword } from "./store-errors.js";

const pbkdf2Async = promisify(pbkdf2);

/** Name of the metadata file inside a store directory. */
export const METADATA_FILE = "cardwright-store.json";

const FORMAT = "cardwright-software-store";

/** Which store: the machine's (shared by services) or a user's. */
export type StoreScope = "machine" | "user";

/** PBKDF2-HMAC-SHA-256 (RFC 8018 §5.2) of the password: salt, iterations and derived bytes. */
export interface PasswordCheck {
  kdf: "PBKDF2-HMAC-SHA-256";
  /** Base64. */
  salt: string;
  iterations: number;
  /** Base64 of 32 derived bytes. */
  derived: string;
}

/** Content of {@link METADATA_FILE}. */
export interface StoreMetadata {
  format: typeof FORMAT;
  version: 1;
  /** Random, fixed at creation: the device serial of this store. */
  serial: string;
  scope: StoreScope;
  /** ISO 8601. */
  createdAt: string;
  /** PBKDF2 and MAC iterations of the PKCS#12 files this store writes. */
  iterations: number;
  passwordCheck: PasswordCheck;
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Buffer> {
  return pbkdf2Async(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
}

/** Build the metadata of a new store; the serial is 16 random hex digits. */
export async function newMetadata(scope: StoreScope, password: string, iterations: number): Promise<StoreMetadata> {
  const salt = randomBytes(16);
  const derived = await derive(password, salt, iterations);
  return {
    format: FORMAT,
    version: 1,
    serial: randomBytes(8).toString("hex").toUpperCase(),
    scope,
    createdAt: new Date().toISOString(),
    iterations,
    passwordCheck: {
      kdf: "PBKDF2-HMAC-SHA-256",
      salt: salt.toString("base64"),
      iterations,
      derived: derived.toString("base64"),
    },
  };
}

function isMetadata(v: unknown): v is StoreMetadata {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Record<string, unknown>;
  const check = m.passwordCheck as Record<string, unknown> | undefined;
  return (
    m.format === FORMAT &&
    m.version === 1 &&
    typeof m.serial === "string" &&
    /^[0-9A-F]{16}$/.test(m.serial) &&
    (m.scope === "machine" || m.scope === "user") &&
    typeof m.createdAt === "string" &&
    Number.isInteger(m.iterations) &&
    typeof check === "object" &&
    check !== null &&
    check.kdf === "PBKDF2-HMAC-SHA-256" &&
    typeof check.salt === "string" &&
    typeof check.derived === "string" &&
    Number.isInteger(check.iterations)
  );
}

/**
 * Read the metadata of the store in `directory`.
 * @throws CardwrightError `SOFTSTORE_UNAVAILABLE` (reason `missing` or `not-a-store`) when the
 * directory or its metadata file does not exist or cannot be read; `SOFTSTORE_CORRUPT` when the
 * file is not store metadata.
 */
export async function readMetadata(directory: string): Promise<StoreMetadata> {
  const file = join(directory, METADATA_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw unavailable(
        directory,
        code === "ENOENT" ? "missing" : "not-a-store",
        "is not a software store (no directory or no metadata file); create it with SoftwareStoreDevice.create",
        err,
      );
    }
    throw unavailable(
      directory,
      "unreadable",
      `cannot read its metadata file (${code ?? "error"}); check permissions`,
      err,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw corrupt(file, "is not JSON", err);
  }
  if (!isMetadata(parsed)) throw corrupt(file, "is not cardwright software store metadata (format 1)");
  return parsed;
}

/**
 * Check `password` against the store's password check, in constant time.
 * @throws CardwrightError `SOFTSTORE_WRONG_PASSWORD`.
 */
export async function checkPassword(metadata: StoreMetadata, password: string, directory: string): Promise<void> {
  const check = metadata.passwordCheck;
  const expected = Buffer.from(check.derived, "base64");
  const actual = await derive(password, Buffer.from(check.salt, "base64"), check.iterations);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw wrongPassword(directory);
}
