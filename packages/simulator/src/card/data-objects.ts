/**
 * GET DATA and PUT DATA (SP 800-73-4 Part 2 §3.1.2 and §3.3.2; ISO/IEC 7816-4 §11.4). The
 * object is named by a tag list (5C) and carried in tag 53 — except the discovery object,
 * which travels as its own 7E template. Writing needs the management key; an empty 53 deletes.
 */

import { decodeAll, Sw, tlv } from "@cardwright/pcsc";
import { bytesToBigInt } from "../crypto/weierstrass.js";
import { type CardContext, DISCOVERY_OBJECT } from "./card-state.js";
import type { CommandApdu } from "./command-apdu.js";
import { isValidObjectTag, readRequiresPin } from "./object-store.js";
import { CardStatus } from "./status.js";

function requireP1P2(cmd: CommandApdu): void {
  if (cmd.p1 !== 0x3f || cmd.p2 !== 0xff) throw new CardStatus(Sw.incorrectP1P2, "GET/PUT DATA needs P1P2 3FFF");
}

function parseTlvs(data: Uint8Array) {
  try {
    return decodeAll(data);
  } catch {
    throw new CardStatus(Sw.wrongData, "command data is not BER-TLV");
  }
}

function objectTag(value: Uint8Array): number {
  if (value.length < 1 || value.length > 3) throw new CardStatus(Sw.wrongData, "tag list must hold one tag");
  const tag = Number(bytesToBigInt(value));
  if (!isValidObjectTag(tag)) throw new CardStatus(Sw.wrongData, "not a PIV data object tag");
  return tag;
}

/**
 * GET DATA: `5C tag` in, `53 value` (or `7E value`) out.
 * @throws CardStatus 6A82 when the object is absent, 6982 when it needs the PIN, 6A80 on a bad tag list.
 */
export async function getData(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  requireP1P2(cmd);
  const [list, ...rest] = parseTlvs(cmd.data);
  if (list === undefined || list.tag !== 0x5c || rest.length > 0) {
    throw new CardStatus(Sw.wrongData, "GET DATA expects a single 5C tag list");
  }
  const tag = objectTag(list.value);
  if (readRequiresPin(tag) && !ctx.state.volatile.pinVerified) {
    throw new CardStatus(Sw.securityStatusNotSatisfied, "reading this object needs the PIN");
  }
  const value = ctx.state.objects.get(tag);
  if (value === undefined) throw new CardStatus(Sw.fileNotFound, "data object not found");
  return tlv(tag === DISCOVERY_OBJECT ? DISCOVERY_OBJECT : 0x53, value);
}

/**
 * PUT DATA: `5C tag ‖ 53 value` (discovery: `5C 7E ‖ 7E value`).
 * @throws CardStatus 6982 without management-key authentication, 6A84 when memory is full,
 * 6A80 on malformed data.
 */
export async function putData(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  requireP1P2(cmd);
  if (!ctx.state.volatile.managementAuthenticated) {
    throw new CardStatus(Sw.securityStatusNotSatisfied, "PUT DATA needs management key authentication");
  }
  const items = parseTlvs(cmd.data);
  const [list, body] = items;
  if (items.length !== 2 || list === undefined || body === undefined || list.tag !== 0x5c) {
    throw new CardStatus(Sw.wrongData, "PUT DATA expects 5C tag list and one data template");
  }
  const tag = objectTag(list.value);
  const expected = tag === DISCOVERY_OBJECT ? DISCOVERY_OBJECT : 0x53;
  if (body.tag !== expected)
    throw new CardStatus(Sw.wrongData, `object must be wrapped in tag ${expected.toString(16)}`);
  if (body.value.length === 0) ctx.state.objects.delete(tag);
  else ctx.state.objects.put(tag, body.value);
  return new Uint8Array(0);
}
