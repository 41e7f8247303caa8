/**
 * Discovery Object (tag 0x7E), SP 800-73-4 Part 1 §3.3.2 and Appendix A Table 18: the PIV AID
 * (0x4F) and the PIN Usage Policy (0x5F2F, two bytes).
 */
import { BadResponseError } from "../errors.js";
import { decodeMap } from "../tlv.js";

/** The Discovery Object. */
export interface DiscoveryObject {
  /** PIV card application AID. */
  aid: Uint8Array;
  /** The PIV Card Application PIN satisfies the PIV access control rules (first byte, b7). */
  pivPin: boolean;
  /** The Global PIN satisfies them (b6). */
  globalPin: boolean;
  /** On-card biometric comparison satisfies them (b5). */
  occ: boolean;
  /** The Virtual Contact Interface needs the pairing code (b4). */
  vciPairingCode: boolean;
  /** Which PIN the card prefers when both work (second byte: 0x10 PIV PIN, 0x20 global PIN). */
  primaryPin: "piv" | "global";
}

const TAG_AID = 0x4f;
const TAG_PIN_USAGE_POLICY = 0x5f2f;

/** Parse the value of the 0x7E Discovery Object. @throws BadResponseError when AID or policy is missing. */
export function parseDiscovery(value: Uint8Array): DiscoveryObject {
  const map = decodeMap(value);
  const aid = map.get(TAG_AID);
  const policy = map.get(TAG_PIN_USAGE_POLICY);
  if (aid === undefined || policy === undefined || policy.length !== 2) {
    throw new BadResponseError("discovery object lacks the AID or a two-byte PIN usage policy");
  }
  const first = policy[0] as number;
  return {
    aid: Uint8Array.from(aid),
    pivPin: (first & 0x40) !== 0,
    globalPin: (first & 0x20) !== 0,
    occ: (first & 0x10) !== 0,
    vciPairingCode: (first & 0x08) !== 0,
    primaryPin: policy[1] === 0x20 ? "global" : "piv",
  };
}
