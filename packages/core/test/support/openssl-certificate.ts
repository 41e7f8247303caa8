/** Certificates made by OpenSSL, a tool nobody here wrote, for core unit tests to read and cross-check. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * `openssl req -x509`: a self-signed P-256 X.509 certificate (RFC 5280) as DER, with OpenSSL's default
 * extensions; `subject` in OpenSSL `-subj` form (`/CN=Third Party VPN/O=Elsewhere`). The key is not kept.
 * @throws Error with OpenSSL's output when OpenSSL fails.
 */
export function selfSignedCertificate(options: { subject: string; days: number }): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "cw-core-openssl-"));
  try {
    const r = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem"].concat([
        "-subj",
        options.subject,
        "-days",
        String(options.days),
        "-outform",
        "DER",
        "-out",
        "cert.der",
      ]),
      { cwd: dir, encoding: "utf8" },
    );
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`openssl req -x509 failed: ${r.stdout}${r.stderr}`);
    return new Uint8Array(readFileSync(join(dir, "cert.der")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
