/** RFC 4210 §5.1.2 PKIBody: a CHOICE whose alternatives are explicitly tagged `[n]`. */

/** The PKIBody alternatives cardwright sends or understands, by tag (RFC 4210 §5.1.2). */
export const BodyType = {
  ir: 0,
  ip: 1,
  cr: 2,
  cp: 3,
  p10cr: 4,
  kur: 7,
  kup: 8,
  rr: 11,
  rp: 12,
  pkiconf: 19,
  genm: 21,
  genp: 22,
  error: 23,
  certConf: 24,
  pollReq: 25,
  pollRep: 26,
} as const;

/** A PKIBody tag name. */
export type BodyTypeName = keyof typeof BodyType;

/** The name of a body tag, or `[n]` for one cardwright does not handle. */
export function bodyTypeName(tag: number): string {
  return Object.entries(BodyType).find(([, v]) => v === tag)?.[0] ?? `[${tag}]`;
}
