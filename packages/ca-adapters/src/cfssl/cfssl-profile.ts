/**
 * cfssl signing profiles as `/api/v1/cfssl/info` describes them (`usages`, `expiry`), checked
 * against the policy's `CertificateProfile` before anything is signed. cfssl takes keyUsage,
 * extKeyUsage and validity from its own profile — and silently falls back to its default
 * profile for an unknown name — so without this check a template could get a certificate
 * with other usages than it asked for.
 */
import { type CertificateProfile, ekuOid, type KeyUsage } from "@cardwright/core";

/** cfssl usage names for keyUsage bits (cfssl `config.KeyUsage`). */
const CFSSL_KEY_USAGE: Readonly<Record<string, KeyUsage | "encipherOnly" | "decipherOnly">> = {
  signing: "digitalSignature",
  "digital signature": "digitalSignature",
  "content commitment": "nonRepudiation",
  "key encipherment": "keyEncipherment",
  "key agreement": "keyAgreement",
  "data encipherment": "dataEncipherment",
  "cert sign": "keyCertSign",
  "crl sign": "cRLSign",
  "encipher only": "encipherOnly",
  "decipher only": "decipherOnly",
};

/** cfssl usage names for extKeyUsage purposes (cfssl `config.ExtKeyUsage`), as OIDs. */
const CFSSL_EXT_KEY_USAGE: Readonly<Record<string, string>> = {
  any: "2.5.29.37.0",
  "server auth": "1.3.6.1.5.5.7.3.1",
  "client auth": "1.3.6.1.5.5.7.3.2",
  "code signing": "1.3.6.1.5.5.7.3.3",
  "email protection": "1.3.6.1.5.5.7.3.4",
  "s/mime": "1.3.6.1.5.5.7.3.4",
  "ipsec end system": "1.3.6.1.5.5.7.3.5",
  "ipsec tunnel": "1.3.6.1.5.5.7.3.6",
  "ipsec user": "1.3.6.1.5.5.7.3.7",
  timestamping: "1.3.6.1.5.5.7.3.8",
  "ocsp signing": "1.3.6.1.5.5.7.3.9",
  "microsoft sgc": "1.3.6.1.4.1.311.10.3.3",
  "netscape sgc": "2.16.840.1.113730.4.1",
};

/** What a cfssl profile grants, decoded. */
export interface CfsslProfileGrant {
  keyUsage: string[];
  extendedKeyUsage: string[];
  /** Certificate lifetime in hours. */
  expiryHours: number;
  /** Usage names cfssl listed that this module does not know. */
  unknownUsages: string[];
}

/**
 * Parse a Go `time.Duration` string as cfssl prints it ("8760h", "8760h0m0s", "90m") into hours.
 * Returns undefined for anything else.
 */
export function goDurationHours(text: string): number | undefined {
  const match = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(text.trim());
  if (match === null || text.trim() === "") return undefined;
  const [, h, m, s] = match;
  return Number(h ?? 0) + Number(m ?? 0) / 60 + Number(s ?? 0) / 3600;
}

/** Decode `/info`'s `usages` and `expiry`; undefined when they are missing or malformed. */
export function decodeCfsslProfile(result: unknown): CfsslProfileGrant | undefined {
  const info = result as { usages?: unknown; expiry?: unknown } | null;
  if (info === null || typeof info !== "object" || !Array.isArray(info.usages) || typeof info.expiry !== "string") {
    return undefined;
  }
  const expiryHours = goDurationHours(info.expiry);
  if (expiryHours === undefined) return undefined;
  const grant: CfsslProfileGrant = { keyUsage: [], extendedKeyUsage: [], expiryHours, unknownUsages: [] };
  for (const usage of info.usages) {
    if (typeof usage !== "string") return undefined;
    const name = usage.toLowerCase();
    const ku = CFSSL_KEY_USAGE[name];
    const eku = CFSSL_EXT_KEY_USAGE[name];
    if (ku !== undefined && !grant.keyUsage.includes(ku)) grant.keyUsage.push(ku);
    else if (eku !== undefined && !grant.extendedKeyUsage.includes(eku)) grant.extendedKeyUsage.push(eku);
    else if (ku === undefined && eku === undefined) grant.unknownUsages.push(usage);
  }
  return grant;
}

/**
 * How `grant` differs from what `profile` asks for, as one sentence, or undefined when they
 * agree (same key usages, same EKU OIDs, validity within one hour).
 */
export function profileMismatch(grant: CfsslProfileGrant, profile: CertificateProfile): string | undefined {
  const sameSet = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);
  const problems: string[] = [];
  if (grant.unknownUsages.length > 0) problems.push(`unknown usages ${grant.unknownUsages.join(", ")}`);
  if (!sameSet(grant.keyUsage, profile.keyUsage)) {
    problems.push(`keyUsage [${grant.keyUsage.join(", ")}] instead of [${profile.keyUsage.join(", ")}]`);
  }
  const wantedEku = profile.extendedKeyUsage.map(ekuOid);
  if (!sameSet(grant.extendedKeyUsage, wantedEku)) {
    problems.push(`extKeyUsage [${grant.extendedKeyUsage.join(", ")}] instead of [${wantedEku.join(", ")}]`);
  }
  if (Math.abs(grant.expiryHours - profile.validityDays * 24) > 1) {
    problems.push(`${grant.expiryHours} h validity instead of ${profile.validityDays * 24} h`);
  }
  return problems.length === 0 ? undefined : problems.join("; ");
}
