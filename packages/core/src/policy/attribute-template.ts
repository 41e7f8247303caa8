/**
 * Renders subject and SAN templates over directory attributes: `{displayName}`, `{upn}`,
 * `{email}`, `{givenName}`, `{surname}`, `{id}` and `{attributes.<name>}`. Values placed into a
 * subject DN are escaped as RFC 4514 §2.4 requires, so a user named "Smith, John" stays one RDN.
 */
import type { SanTemplate } from "../domain/policy.js";
import { PolicyError } from "../errors.js";
import type { DirectoryUser } from "../ports/directory.js";

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9_.-]*)\}/g;
const USER_FIELDS = ["id", "displayName", "givenName", "surname", "upn", "email"] as const;

/** Where a template is used, for error messages. */
export interface TemplateSite {
  policyId?: string;
  templateId: string;
  /** "subject", "san.upn", "san.email". */
  field: string;
}

/** The value of attribute `name` (`displayName` or `attributes.department`), or `undefined`. */
export function userAttribute(user: DirectoryUser, name: string): string | undefined {
  if (name.startsWith("attributes.")) {
    const key = name.slice("attributes.".length);
    return Object.hasOwn(user.attributes, key) ? user.attributes[key] : undefined;
  }
  if ((USER_FIELDS as readonly string[]).includes(name)) {
    const v = user[name as (typeof USER_FIELDS)[number]];
    return typeof v === "string" ? v : undefined;
  }
  return Object.hasOwn(user.attributes, name) ? user.attributes[name] : undefined;
}

/** Escape an attribute value for an RFC 4514 string (§2.4). */
export function escapeDnValue(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === "\0") out += "\\00";
    else if ('"+,;<>\\'.includes(c)) out += `\\${c}`;
    else if ((c === " " || c === "#") && i === 0) out += `\\${c}`;
    else if (c === " " && i === value.length - 1) out += "\\ ";
    else out += c;
  }
  return out;
}

/** The placeholder names used in `template`. */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/**
 * Replace each placeholder with the user's attribute, transformed by `encode`.
 * @throws PolicyError `POLICY_RULE` (rule `attribute`) naming the template and the missing attribute.
 */
export function renderTemplate(
  template: string,
  user: DirectoryUser,
  site: TemplateSite,
  encode: (value: string) => string = (v) => v,
): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    const value = userAttribute(user, name);
    if (value === undefined || value === "") {
      const err = new PolicyError(
        site.policyId,
        "attribute",
        `template ${site.templateId} (${site.field}) needs attribute "${name}", which user ${user.id} does not have`,
      );
      Object.assign(err.details, { templateId: site.templateId, attribute: name, userId: user.id });
      throw err;
    }
    return encode(value);
  });
}

/**
 * Render a subject DN template (`"CN={displayName},O=Example"`) with RFC 4514 escaping.
 * @throws PolicyError `POLICY_RULE` for a missing attribute.
 */
export function renderSubject(template: string, user: DirectoryUser, site: Omit<TemplateSite, "field">): string {
  return renderTemplate(template, user, { ...site, field: "subject" }, escapeDnValue);
}

/** Rendered subject alternative names. */
export interface RenderedSan {
  upn?: string;
  email?: string;
}

/**
 * Render SAN templates (UPN otherName, rfc822Name).
 * @throws PolicyError `POLICY_RULE` for a missing attribute.
 */
export function renderSan(
  san: SanTemplate | undefined,
  user: DirectoryUser,
  site: Omit<TemplateSite, "field">,
): RenderedSan {
  const out: RenderedSan = {};
  if (san?.upn !== undefined) out.upn = renderTemplate(san.upn, user, { ...site, field: "san.upn" });
  if (san?.email !== undefined) out.email = renderTemplate(san.email, user, { ...site, field: "san.email" });
  return out;
}
