/** Injected runtime services, so tests are deterministic. */

/** Current time. */
export interface Clock {
  now(): Date;
}

/** Randomness; the default uses the platform CSPRNG. */
export interface Random {
  bytes(length: number): Uint8Array;
  /** A random id (UUID v4 by default). */
  uuid(): string;
}

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Structured logger. Fields must never contain secrets. */
export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}
