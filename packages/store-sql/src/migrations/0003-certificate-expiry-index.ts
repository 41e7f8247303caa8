import type { Migration } from "./migration.js";

/**
 * The renewal query — certificates in one status expiring before an instant, soonest first
 * (`certificates.list({ status, expiringBefore, limit })`) — as one index range scan. With only
 * the (not_after, id) and (status, created_at, id) indexes of the first schema, PostgreSQL either
 * walks not_after from the oldest certificate and filters out every expired or revoked one
 * before the first match (most of a mature inventory), or reads every certificate in the status
 * and sorts them; at 10⁶ certificates both take hundreds of milliseconds for a page of 100.
 */
export const certificateExpiryIndex: Migration = {
  version: 3,
  name: "certificate-expiry-index",
  statements: ["CREATE INDEX certificates_status_not_after_idx ON certificates (status, not_after, id)"],
};
