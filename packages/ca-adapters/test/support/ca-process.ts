/**
 * A separate OS process acting on a CA directory, run by tests through tsx:
 *   ca-process.ts <directory> approve <caRequestId>
 *   ca-process.ts <directory> submit <requestId> <csr-base64>
 * Prints the CaResult as JSON (DER as base64) on stdout. With START_AT (epoch ms) in the
 * environment it waits until then after opening the CA, so several processes act at once.
 */
import { EmbeddedCa } from "../../src/index.js";
import { pivAuthProfile } from "./x509.js";

const [directory, action, id, csrBase64] = process.argv.slice(2);
if (directory === undefined || id === undefined)
  throw new Error("usage: ca-process.ts <directory> <action> <id> [csr]");
const ca = await EmbeddedCa.open({ directory });
const startAt = Number(process.env.START_AT ?? 0);
if (startAt > Date.now()) await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
const result =
  action === "approve"
    ? await ca.approve(id)
    : await ca.submit({
        requestId: id,
        csr: new Uint8Array(Buffer.from(csrBase64 ?? "", "base64")),
        profile: pivAuthProfile,
      });
process.stdout.write(
  JSON.stringify(result, (_key, value) =>
    value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value,
  ),
);
