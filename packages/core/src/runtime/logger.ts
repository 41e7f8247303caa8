/**
 * Default {@link Logger}s. Callers pass only secret-free fields; as a second line of defence,
 * fields whose key names a secret are redacted before anything is printed.
 */
import type { Logger, LogLevel } from "../ports/runtime.js";

const SECRET_KEY = /^(pin|puk|newpin|newpuk|currentpin|currentpuk|managementkey|key|secret|password|sopin)$/i;
const REDACTED = "[redacted]";

/**
 * Copy of `fields` with the value of every key named like a secret (`pin`, `puk`,
 * `managementKey`, `key`, `secret`...) replaced by `"[redacted]"`, at any depth.
 */
export function redactSecrets(fields: Record<string, unknown>): Record<string, unknown> {
  return redactValue(fields, new WeakSet()) as Record<string, unknown>;
}

function redactValue(value: unknown, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[circular]";
  seen.add(value);
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) ? REDACTED : redactValue(v, seen);
  }
  return out;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options for {@link consoleLogger}. */
export interface ConsoleLoggerOptions {
  /** Lowest level printed; default `"info"`. */
  level?: LogLevel;
}

/** A logger printing one JSON line per entry to the console, with secret-named fields redacted. */
export function consoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const min = LEVELS[options.level ?? "info"];
  return {
    log(level, message, fields) {
      if (LEVELS[level] < min) return;
      const line = JSON.stringify({
        level,
        message,
        ...(fields === undefined ? {} : { fields: redactSecrets(fields) }),
      });
      if (level === "error") console.error(line);
      else if (level === "warn") console.warn(line);
      else console.log(line);
    },
  };
}

/** A logger that drops everything (the facade's default). */
export const silentLogger: Logger = {
  log() {},
};
