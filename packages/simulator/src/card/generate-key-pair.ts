/**
 * GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 Part 2 §3.3.2): control reference template AC with
 * the algorithm (80) and Yubico's PIN (AA) and touch (AB) policies in; the public key template
 * 7F49 (Table 10: 81/82 for RSA, 86 for EC) out. Needs the management key.
 */

import { decodeMap, Sw, tlv } from "@cardwright/pcsc";
import { generateSlotKeyPair, keySpecFor, publicKeyObjects } from "../crypto/slot-keys.js";
import type { CardContext } from "./card-state.js";
import type { CommandApdu } from "./command-apdu.js";
import { Features } from "./firmware.js";
import { isAsymmetricSlot, resolvePolicies } from "./key-slots.js";
import { CardStatus } from "./status.js";

function single(value: Uint8Array | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (value.length !== 1) throw new CardStatus(Sw.wrongData, `${what} must be one byte`);
  return value[0];
}

/**
 * Supported key algorithm for this card, or a 6A80.
 * @throws CardStatus 6A80 when the firmware has no such algorithm.
 */
export function requireKeySpec(ctx: CardContext, algorithm: number) {
  const spec = keySpecFor(algorithm);
  if (spec === undefined) throw new CardStatus(Sw.wrongData, "unsupported key algorithm");
  if (spec.kind === "rsa" && spec.bits > 2048 && !Features.largeRsa(ctx.state.config.firmware)) {
    throw new CardStatus(Sw.wrongData, "RSA 3072/4096 needs firmware 5.7");
  }
  return spec;
}

/**
 * Generate a key pair in slot P2.
 * @throws CardStatus 6982 without management authentication, 6A86 bad slot, 6A80 bad template.
 */
export async function generateAsymmetricKeyPair(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  if (cmd.p1 !== 0x00 || !isAsymmetricSlot(cmd.p2)) throw new CardStatus(Sw.incorrectP1P2, "not a key slot");
  if (!ctx.state.volatile.managementAuthenticated) {
    throw new CardStatus(Sw.securityStatusNotSatisfied, "key generation needs management key authentication");
  }
  let template: Map<number, Uint8Array>;
  try {
    const outer = decodeMap(cmd.data).get(0xac);
    if (outer === undefined) throw new Error("no AC");
    template = decodeMap(outer);
  } catch {
    throw new CardStatus(Sw.wrongData, "expected control reference template AC");
  }
  const algorithm = single(template.get(0x80), "algorithm");
  if (algorithm === undefined) throw new CardStatus(Sw.wrongData, "algorithm (80) missing");
  const spec = requireKeySpec(ctx, algorithm);
  const { pinPolicy, touchPolicy } = resolvePolicies(
    cmd.p2,
    single(template.get(0xaa), "PIN policy"),
    single(template.get(0xab), "touch policy"),
  );
  const pair = await generateSlotKeyPair(spec);
  await ctx.delay(ctx.latency.keyGenerationMs?.[spec.name] ?? 0);
  ctx.state.keys.set(cmd.p2, { algorithm, ...pair, pinPolicy, touchPolicy, origin: "generated" });
  return tlv(0x7f49, publicKeyObjects(pair.publicKey, spec));
}
