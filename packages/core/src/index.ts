// Public API of @cardwright/core. Explicit named exports only.

export type * from "./domain/audit.js";
export type * from "./domain/card.js";
export type * from "./domain/policy.js";
export * from "./errors.js";
export type * from "./ports/audit-log.js";
export type * from "./ports/certificate-authority.js";
export type * from "./ports/device.js";
export type * from "./ports/directory.js";
export type * from "./ports/notifier.js";
export type * from "./ports/runtime.js";
export type * from "./ports/secret-vault.js";
export type * from "./ports/store.js";
