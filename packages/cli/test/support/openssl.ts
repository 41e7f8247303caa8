/** Cross-checks with OpenSSL, a tool nobody here wrote: if it disagrees with us, we are wrong. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

/** Runs openssl with the given files written to a temp dir; returns exit status and output. */
export function openssl(args: string[], files: Record<string, string> = {}): { status: number; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "cw-openssl-"));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** `openssl verify -CAfile` of `certificate` against `chain` (root last). */
export function verifyCertificate(
  certificate: Uint8Array,
  chain: readonly Uint8Array[],
): { status: number; output: string } {
  const root = chain[chain.length - 1];
  if (!root) throw new Error("empty chain");
  const intermediates = chain.slice(0, -1);
  const args = ["verify", "-CAfile", "root.pem"];
  const files: Record<string, string> = {
    "root.pem": pem("CERTIFICATE", root),
    "cert.pem": pem("CERTIFICATE", certificate),
  };
  if (intermediates.length > 0) {
    files["untrusted.pem"] = intermediates.map((c) => pem("CERTIFICATE", c)).join("");
    args.push("-untrusted", "untrusted.pem");
  }
  args.push("cert.pem");
  return openssl(args, files);
}

/** `openssl req -verify` of a DER PKCS#10. */
export function verifyCsr(csr: Uint8Array): { status: number; output: string } {
  return openssl(["req", "-verify", "-noout", "-in", "csr.pem"], { "csr.pem": pem("CERTIFICATE REQUEST", csr) });
}

/** `openssl x509 -text` of a DER certificate. */
export function certificateText(certificate: Uint8Array): string {
  return openssl(["x509", "-noout", "-text", "-in", "cert.pem"], { "cert.pem": pem("CERTIFICATE", certificate) })
    .output;
}
