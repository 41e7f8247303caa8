/** Cross-checks with OpenSSL, a tool nobody here wrote: if it disagrees with us, we are wrong. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pem } from "./pem.js";

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

/** What {@link opensslCertificate} makes: a subject, a validity and optionally the public key to certify. */
export interface OpensslCertificateOptions {
  /** OpenSSL `-subj` form, e.g. `/CN=Partner VPN/O=Partner Inc`. */
  subject: string;
  days: number;
  /**
   * DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) to certify, e.g. a key generated on the card; the certificate is
   * then signed by a throwaway P-256 key (`x509 -new -force_pubkey`). Without it, a self-signed P-256 certificate.
   */
  publicKey?: Uint8Array;
}

/**
 * A certificate (DER) made by OpenSSL, not by us: the "foreign" or third-party certificate a card may already hold.
 * The private keys stay in a temp dir removed before returning.
 * @throws Error with OpenSSL's output when OpenSSL fails.
 */
export function opensslCertificate(options: OpensslCertificateOptions): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "cw-openssl-cert-"));
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stdout}${r.stderr}`);
  };
  const validity = ["-days", String(options.days), "-outform", "DER", "-out", "cert.der"];
  try {
    if (options.publicKey === undefined) {
      run(
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem"].concat(
          ["-subj", options.subject],
          validity,
        ),
      );
    } else {
      writeFileSync(join(dir, "pub.pem"), pem("PUBLIC KEY", options.publicKey));
      run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem"]);
      run(["x509", "-new", "-subj", options.subject, "-key", "key.pem", "-force_pubkey", "pub.pem"].concat(validity));
    }
    return new Uint8Array(readFileSync(join(dir, "cert.der")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
