/**
 * A two-level CA (root → issuing) driven through the openssl command line, for recorded-exchange
 * servers that must answer with real certificates: `openssl x509 -req` checks the request's
 * self-signature and signs with the issuing key.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { OpensslWorkspace } from "./openssl.js";

export interface OpensslCa {
  /** Issuing CA then root, DER. */
  chain: Uint8Array[];
  /** Sign a DER PKCS#10; undefined when openssl refuses it (e.g. a broken self-signature). */
  sign(csrDer: Uint8Array): Promise<Uint8Array | undefined>;
  /** A DER PKCS#7 certs-only bundle of `certificates`. */
  pkcs7(certificates: Uint8Array[]): Promise<Uint8Array>;
  /** A DER PKCS#10 for a fresh key nobody asked about. */
  foreignCsr(): Promise<Uint8Array>;
  /** CMS SignedData over `content` with `eContentType`, signed by the issuing CA (openssl cms -sign). */
  cmsSign(content: Uint8Array, eContentType: string): Promise<Uint8Array>;
  issuedCount(): number;
}

export function pem(der: Uint8Array, label = "CERTIFICATE"): string {
  const body =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${body.join("\n")}\n-----END ${label}-----\n`;
}

function pemToDer(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64"));
}

export async function createOpensslCa(
  ws: OpensslWorkspace,
  name: string,
  leafExtensions: string,
  leafDays: number,
): Promise<OpensslCa> {
  const run = async (...args: string[]) => {
    const res = await ws.run(...args);
    if (res.code !== 0) throw new Error(`openssl ${args[0]}: ${res.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const p = `${name}-`;
  await ws.write(
    `${p}ca.ext`,
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n",
  );
  await ws.write(`${p}leaf.ext`, leafExtensions);
  await run(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    `${p}root.key`,
    "-out",
    `${p}root.pem`,
    "-subj",
    `/CN=${name} Root/O=Cardwright`,
    "-days",
    "30",
  );
  await run(
    "req",
    "-new",
    ...ec,
    "-keyout",
    `${p}issuing.key`,
    "-out",
    `${p}issuing.csr`,
    "-subj",
    `/CN=${name} Issuing CA/O=Cardwright`,
  );
  await run(
    "x509",
    "-req",
    "-in",
    `${p}issuing.csr`,
    "-CA",
    `${p}root.pem`,
    "-CAkey",
    `${p}root.key`,
    "-set_serial",
    "0x1001",
    "-out",
    `${p}issuing.pem`,
    "-days",
    "30",
    "-extfile",
    `${p}ca.ext`,
  );
  const chain = [
    pemToDer(await readFile(join(ws.dir, `${p}issuing.pem`), "utf8")),
    pemToDer(await readFile(join(ws.dir, `${p}root.pem`), "utf8")),
  ];
  let counter = 0;
  let issued = 0;
  return {
    chain,
    async sign(csrDer) {
      const n = counter++;
      await ws.write(`${p}req-${n}.der`, csrDer);
      const res = await ws.run(
        "x509",
        "-req",
        "-inform",
        "DER",
        "-in",
        `${p}req-${n}.der`,
        "-CA",
        `${p}issuing.pem`,
        "-CAkey",
        `${p}issuing.key`,
        "-set_serial",
        `0x${randomBytes(12).toString("hex")}`,
        "-days",
        String(leafDays),
        "-extfile",
        `${p}leaf.ext`,
        "-outform",
        "DER",
        "-out",
        `${p}leaf-${n}.der`,
      );
      if (res.code !== 0) return undefined;
      issued++;
      return new Uint8Array(await readFile(join(ws.dir, `${p}leaf-${n}.der`)));
    },
    async pkcs7(certificates) {
      const n = counter++;
      const args: string[] = [];
      for (const [i, c] of certificates.entries()) {
        await ws.write(`${p}b-${n}-${i}.pem`, pem(c));
        args.push("-certfile", `${p}b-${n}-${i}.pem`);
      }
      await run("crl2pkcs7", "-nocrl", ...args, "-outform", "DER", "-out", `${p}b-${n}.p7`);
      return new Uint8Array(await readFile(join(ws.dir, `${p}b-${n}.p7`)));
    },
    async foreignCsr() {
      const n = counter++;
      await run(
        "req",
        "-new",
        ...ec,
        "-keyout",
        `${p}other-${n}.key`,
        "-subj",
        "/CN=someone else",
        "-outform",
        "DER",
        "-out",
        `${p}other-${n}.der`,
      );
      return new Uint8Array(await readFile(join(ws.dir, `${p}other-${n}.der`)));
    },
    async cmsSign(content, eContentType) {
      const n = counter++;
      await ws.write(`${p}cms-${n}.in`, content);
      await run(
        "cms",
        "-sign",
        "-binary",
        "-nodetach",
        "-in",
        `${p}cms-${n}.in`,
        "-econtent_type",
        eContentType,
        "-signer",
        `${p}issuing.pem`,
        "-inkey",
        `${p}issuing.key`,
        "-outform",
        "DER",
        "-out",
        `${p}cms-${n}.der`,
      );
      return new Uint8Array(await readFile(join(ws.dir, `${p}cms-${n}.der`)));
    },
    issuedCount: () => issued,
  };
}
