/** Every schema migration, oldest first. Append new ones; never edit one that has shipped. */
import { initialSchema } from "./0001-initial.js";
import { cardLeases } from "./0002-card-leases.js";
import { certificateExpiryIndex } from "./0003-certificate-expiry-index.js";
import { workflowRecords } from "./0004-workflow-records.js";
import type { Migration } from "./migration.js";

/** All migrations in the order they apply. */
export const migrations: readonly Migration[] = [initialSchema, cardLeases, certificateExpiryIndex, workflowRecords];
