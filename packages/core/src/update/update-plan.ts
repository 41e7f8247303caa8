/**
 * The card update diff: what an update does to a card, computed from its certificate records,
 * what is actually on the device, and its (possibly newly assigned) policy — a pure function, so
 * the plan an operator previews is the plan the workflow runs.
 *
 * - remove: a live certificate whose template the target policy does not have (or no longer
 *   selects, or moved to another slot);
 * - add: a template the target policy selects (mandatory, plus the chosen optional ones) with no
 *   live certificate;
 * - renew: a live certificate inside its template's `renewalWindowDays`, or one of whose
 *   template's `trackedAttributes` changed since it was issued (RFC 5280 §4.1.2.5 validity);
 * - keep: every other live certificate of a selected template, unchanged;
 * - foreign: certificates on the device that no record lists (written outside cardwright), with
 *   what the policy's {@link ForeignCertificateRule} does with them.
 */
import type { CertificateRecord } from "../domain/card.js";
import type { CertificateTemplate, ForeignCertificateRule, Policy } from "../domain/policy.js";
import { CardwrightError, PolicyError } from "../errors.js";
import { parseCertificate } from "../pki/certificate.js";
import { userAttribute } from "../policy/attribute-template.js";
import { selectTemplates } from "../policy/policy-engine.js";
import type { DeviceObject, SlotId } from "../ports/device.js";
import type { DirectoryUser } from "../ports/directory.js";

/** Inputs of {@link planCardUpdate}. */
export interface UpdatePlanInput {
  /** The card's certificate records (any status; only live ones, `written`, take part in the diff). */
  records: readonly CertificateRecord[];
  /** What the device holds now (`Device.listObjects()`). */
  deviceObjects: readonly DeviceObject[];
  /** The policy the card was issued under, when still known (for the plan's report only). */
  currentPolicy?: Pick<Policy, "id" | "version">;
  /** The policy the card is brought in line with: its own (current version) or a newly assigned one. */
  targetPolicy: Policy;
  /**
   * Optional templates of the target policy to have on the card. When omitted, the optional
   * certificates the card already holds and the target policy still has are kept.
   */
  optionalTemplates?: readonly string[];
  /** The card's user as the directory knows them now. */
  user: DirectoryUser;
  now: Date;
}

/** Why a certificate is renewed. */
export type RenewalReason = "renewal-window" | "tracked-attributes";

/** A certificate of a template the target policy does not select: revoked and deleted at commit. */
export interface PlannedRemoval {
  certificateId: string;
  templateId?: string;
  slot: SlotId;
  serialHex?: string;
  caId?: string;
}

/** A certificate to request for a template the card lacks. */
export interface PlannedAddition {
  templateId: string;
  slot: SlotId;
  caId: string;
  /** The slot already holds a certificate being removed by this update (its key is replaced). */
  replacesCertificateId?: string;
}

/** A live certificate left as it is. */
export interface PlannedKeep {
  certificateId: string;
  templateId: string;
  slot: SlotId;
  serialHex?: string;
}

/** A live certificate to renew. */
export interface PlannedRenewal {
  certificateId: string;
  templateId: string;
  slot: SlotId;
  caId: string;
  serialHex: string;
  reasons: RenewalReason[];
  /** ISO 8601 notAfter of the certificate renewed. */
  notAfter?: string;
  /** Tracked attributes whose value changed: name → [issued with, now]. */
  changedAttributes?: Record<string, [string, string]>;
}

/** A certificate on the device that no record lists. */
export interface ForeignCertificate {
  slot: SlotId;
  serialHex: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  /** DER, base64. */
  certificate: string;
  /** What the update does with it, by the target policy's rule. */
  action: ForeignCertificateRule;
}

/** The plan of a card update. */
export interface UpdatePlan {
  fromPolicy?: { id: string; version: number };
  toPolicy: { id: string; version: number };
  /** Optional templates the card will hold. */
  optionalTemplates: string[];
  remove: PlannedRemoval[];
  add: PlannedAddition[];
  keep: PlannedKeep[];
  renew: PlannedRenewal[];
  foreign: ForeignCertificate[];
}

const DAY_MS = 86_400_000;

/** The tracked attribute values of `template` for `user` (missing attributes as the empty string). */
export function trackedAttributeValues(
  template: Pick<CertificateTemplate, "trackedAttributes">,
  user: DirectoryUser,
): Record<string, string> | undefined {
  if (template.trackedAttributes === undefined || template.trackedAttributes.length === 0) return undefined;
  const values: Record<string, string> = {};
  for (const name of template.trackedAttributes) values[name] = userAttribute(user, name) ?? "";
  return values;
}

/** DER of a record's certificate, base64 (as stored), for comparing with what the device holds. */
function sameDer(record: CertificateRecord, der: Uint8Array): boolean {
  return record.certificate !== undefined && record.certificate === Buffer.from(der).toString("base64");
}

/**
 * Compute the update plan. Pure: reads nothing but its input.
 * @throws PolicyError `POLICY_INVALID` for an unknown optional template; PolicyError `POLICY_RULE`
 * when a template to add needs a slot that holds a foreign certificate the policy keeps or
 * registers (`details.slot`), since writing the template would destroy it.
 */
export function planCardUpdate(input: UpdatePlanInput): UpdatePlan {
  const { targetPolicy: policy, user, now } = input;
  const live = input.records
    .filter((r) => r.status === "written" && r.thirdParty !== true)
    .sort((a, b) => a.slot.localeCompare(b.slot) || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  const optional =
    input.optionalTemplates !== undefined
      ? [...input.optionalTemplates]
      : policy.certificates.filter((t) => !t.mandatory && live.some((r) => r.templateId === t.id)).map((t) => t.id);
  const selected = selectTemplates(policy, optional);

  const remove: PlannedRemoval[] = [];
  const keep: PlannedKeep[] = [];
  const renew: PlannedRenewal[] = [];
  const covered = new Set<string>();
  for (const r of live) {
    const t = selected.find((x) => x.id === r.templateId);
    if (t === undefined || t.slot !== r.slot || covered.has(t.id)) {
      remove.push({
        certificateId: r.id,
        slot: r.slot,
        ...(r.templateId === undefined ? {} : { templateId: r.templateId }),
        ...(r.serialHex === undefined ? {} : { serialHex: r.serialHex }),
        ...(r.caId === undefined ? {} : { caId: r.caId }),
      });
      continue;
    }
    covered.add(t.id);
    const reasons: RenewalReason[] = [];
    if (t.renewalWindowDays !== undefined && r.notAfter !== undefined) {
      const left = Date.parse(r.notAfter) - now.getTime();
      if (left <= t.renewalWindowDays * DAY_MS) reasons.push("renewal-window");
    }
    const changed: Record<string, [string, string]> = {};
    const current = trackedAttributeValues(t, user);
    if (current !== undefined && r.trackedAttributes !== undefined) {
      for (const [name, value] of Object.entries(current)) {
        const before = r.trackedAttributes[name];
        if (before !== undefined && before !== value) changed[name] = [before, value];
      }
      if (Object.keys(changed).length > 0) reasons.push("tracked-attributes");
    }
    if (reasons.length > 0 && r.serialHex !== undefined) {
      renew.push({
        certificateId: r.id,
        templateId: t.id,
        slot: r.slot,
        caId: t.caId,
        serialHex: r.serialHex,
        reasons,
        ...(r.notAfter === undefined ? {} : { notAfter: r.notAfter }),
        ...(Object.keys(changed).length > 0 ? { changedAttributes: changed } : {}),
      });
    } else {
      keep.push({
        certificateId: r.id,
        templateId: t.id,
        slot: r.slot,
        ...(r.serialHex === undefined ? {} : { serialHex: r.serialHex }),
      });
    }
  }

  const rule: ForeignCertificateRule = policy.foreignCertificates ?? "keep";
  const foreign: ForeignCertificate[] = [];
  for (const o of [...input.deviceObjects].sort((a, b) => a.slot.localeCompare(b.slot))) {
    if (o.certificate === undefined) continue;
    const der = o.certificate;
    if (input.records.some((r) => r.slot === o.slot && sameDer(r, der))) continue;
    const summary = parseForeign(o.slot, der);
    foreign.push({ ...summary, action: rule });
  }

  const add: PlannedAddition[] = [];
  for (const t of selected) {
    if (covered.has(t.id)) continue;
    const occupant = foreign.find((f) => f.slot === t.slot);
    if (occupant !== undefined && occupant.action !== "remove") {
      const err = new PolicyError(
        policy.id,
        "foreignCertificates",
        `template ${t.id} needs slot ${t.slot}, which holds a certificate written outside cardwright (serial ${occupant.serialHex}, ${occupant.subject}) that policy ${policy.id} says to ${occupant.action}; remove it or set foreignCertificates to "remove"`,
        "POLICY_RULE",
      );
      Object.assign(err.details, { slot: t.slot, templateId: t.id, serialHex: occupant.serialHex });
      throw err;
    }
    const replaced = remove.find((x) => x.slot === t.slot);
    add.push({
      templateId: t.id,
      slot: t.slot,
      caId: t.caId,
      ...(replaced === undefined ? {} : { replacesCertificateId: replaced.certificateId }),
    });
  }

  return {
    ...(input.currentPolicy === undefined
      ? {}
      : { fromPolicy: { id: input.currentPolicy.id, version: input.currentPolicy.version } }),
    toPolicy: { id: policy.id, version: policy.version },
    optionalTemplates: optional,
    remove,
    add,
    keep,
    renew,
    foreign,
  };
}

function parseForeign(slot: SlotId, der: Uint8Array): Omit<ForeignCertificate, "action"> {
  try {
    const s = parseCertificate(der);
    return {
      slot,
      serialHex: s.serialHex,
      subject: s.subject,
      issuer: s.issuer,
      notBefore: s.notBefore,
      notAfter: s.notAfter,
      certificate: Buffer.from(der).toString("base64"),
    };
  } catch (err) {
    throw new CardwrightError(
      "PIV_WRONG_DATA",
      `slot ${slot} holds data that is not an X.509 certificate; inspect the card with another tool before updating it`,
      { details: { slot }, cause: err },
    );
  }
}
