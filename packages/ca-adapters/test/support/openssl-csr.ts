/** PKCS#10 requests (RFC 2986) made by OpenSSL, an encoder nobody here wrote. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * `openssl req -new` with a fresh P-256 key: the DER CSR, with `subjectAltName` (OpenSSL `-addext` form, e.g.
 * `DNS:host.example,IP:192.0.2.1`) when given. The key is not kept.
 * @throws Error with OpenSSL's output when OpenSSL fails.
 */
export function opensslCsr(options: { subject: string; subjectAltName?: string }): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "cw-openssl-csr-"));
  try {
    const san = options.subjectAltName === undefined ? [] : ["-addext", `subjectAltName=${options.subjectAltName}`];
    const r = spawnSync(
      "openssl",
      ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem"].concat(
        ["-subj", options.subject],
        san,
        ["-outform", "DER", "-out", "req.der"],
      ),
      { cwd: dir, encoding: "utf8" },
    );
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`openssl req -new failed: ${r.stdout}${r.stderr}`);
    return new Uint8Array(readFileSync(join(dir, "req.der")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
