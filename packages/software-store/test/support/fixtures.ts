/** Temp directories, a throwaway OpenSSL CA, and certificates it issues for store keys. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCsr, type DevicePublicKey } from "@cardwright/core";
import type { SoftwareStoreDevice } from "../../src/index.js";
import { openssl, pem } from "./openssl.js";

/** A fresh temp directory, removed by `cleanup`. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An OpenSSL CA in `dir` (ca.key, ca.pem). */
export function opensslCa(dir: string): { caPem: string } {
  const r = openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-subj",
      "/CN=Store Test CA",
      "-days",
      "2",
    ],
    { cwd: dir },
  );
  if (r.status !== 0) throw new Error(`openssl CA: ${r.stderr}`);
  return { caPem: readFileSync(join(dir, "ca.pem"), "utf8") };
}

let serial = 1;

/**
 * Build a CSR signed by the store's key in `slot` (the device must have a verified PIN), check
 * it with `openssl req -verify`, and have the OpenSSL CA in `caDir` issue a DER certificate.
 */
export async function issueForSlot(
  device: SoftwareStoreDevice,
  slot: string,
  publicKey: DevicePublicKey,
  caDir: string,
  subject = "CN=Store User,O=Example",
): Promise<Uint8Array> {
  const csr = await buildCsr({ subject, publicKey, slot, keyUsage: ["digitalSignature"] }, device);
  const name = `req-${slot}-${serial}`;
  writeFileSync(join(caDir, `${name}.csr`), pem("CERTIFICATE REQUEST", csr));
  const verify = openssl(["req", "-verify", "-noout", "-in", `${name}.csr`], { cwd: caDir });
  if (verify.status !== 0) throw new Error(`CSR does not verify: ${verify.stderr}`);
  const r = openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-set_serial",
      String(serial++),
      "-days",
      "1",
      "-outform",
      "DER",
      "-out",
      `${name}.der`,
    ],
    { cwd: caDir },
  );
  if (r.status !== 0) throw new Error(`openssl x509 -req: ${r.stderr}`);
  return new Uint8Array(readFileSync(join(caDir, `${name}.der`)));
}
