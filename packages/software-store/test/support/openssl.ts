/** Cross-checks with OpenSSL 3, which reads and writes the same PKCS#12 files as the store. */
import { spawnSync } from "node:child_process";

/** Result of one openssl run. */
export interface OpensslResult {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Run openssl in `cwd`. The PKCS#12 password goes through the environment (`-passin env:CW_PASS`),
 * never on a command line other processes can read.
 */
export function openssl(args: readonly string[], options: { cwd: string; password?: string }): OpensslResult {
  const env = { ...process.env, ...(options.password === undefined ? {} : { CW_PASS: options.password }) };
  const r = spawnSync("openssl", args, { cwd: options.cwd, env, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** PEM of a DER object. */
export function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

/** DER bodies of the PEM blocks with `label` in `text`. */
export function pemBlocks(text: string, label: string): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, "g");
  return [...text.matchAll(re)].map((m) => new Uint8Array(Buffer.from((m[1] ?? "").replace(/\s+/g, ""), "base64")));
}
