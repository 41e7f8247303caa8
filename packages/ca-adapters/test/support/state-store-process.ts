/**
 * A separate OS process changing an embedded CA's state store, run by tests through tsx:
 *   state-store-process.ts <directory> <tag> <count> <compactAfterBytes>
 * Makes `count` changes, each adding the certificate record `<tag>-<i>` and incrementing
 * crlNumber, and prints `<tag>-<i>` on its own line once that change is committed. Between
 * changes it reads the state outside the lock and exits with status 3 if crlNumber ever went
 * backwards (a read that missed changes it had already seen).
 */
import { join } from "node:path";
import { CaFile } from "../../src/embedded/ca-directory.js";
import { FileCaStateStore } from "../../src/embedded/file-state-store.js";

const [directory, tag, count, compactAfterBytes] = process.argv.slice(2);
if (directory === undefined || tag === undefined || count === undefined || compactAfterBytes === undefined) {
  throw new Error("usage: state-store-process.ts <directory> <tag> <count> <compactAfterBytes>");
}
const store = new FileCaStateStore(join(directory, CaFile.state), join(directory, CaFile.lock), {
  compactAfterBytes: Number(compactAfterBytes),
});
let highest = 0;
for (let i = 0; i < Number(count); i++) {
  const seen = (await store.read()).crlNumber;
  if (seen < highest) {
    process.stderr.write(`crlNumber went back from ${highest} to ${seen}\n`);
    process.exit(3);
  }
  highest = seen;
  const serialHex = `${tag}-${i}`;
  highest = await store.update((state) => {
    state.crlNumber += 1;
    state.certificates[serialHex] = {
      serialHex,
      subject: `CN=${serialHex}`,
      der: Buffer.alloc(200, i & 0xff).toString("base64"),
      notAfter: "2030-01-01T00:00:00.000Z",
    };
    return state.crlNumber;
  });
  process.stdout.write(`${serialHex}\n`);
}
