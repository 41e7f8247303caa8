/**
 * VERIFY (SP 800-73-4 Part 2 §3.2.1), CHANGE REFERENCE DATA (§3.2.2) and RESET RETRY COUNTER
 * (§3.2.3) for the PIV Card Application PIN (80) and the PUK (81). Reference data is 8 bytes,
 * FF-padded; a YubiKey wants 6–8 significant bytes for a new PIN or PUK. Wrong values answer
 * 63Cx with the tries left, an exhausted counter 6983.
 */

import { Sw } from "@cardwright/pcsc";
import type { CardContext } from "./card-state.js";
import type { CommandApdu } from "./command-apdu.js";
import { REFERENCE_LENGTH, type ReferenceData, unpaddedLength } from "./security-state.js";
import { CardStatus } from "./status.js";

const PIN = 0x80;
const PUK = 0x81;
const MIN_LENGTH = 6;

function wrong(ref: ReferenceData, what: string): CardStatus {
  return new CardStatus(0x63c0 | Math.min(ref.retriesLeft, 15), `wrong ${what}`);
}

function checkNewValue(value: Uint8Array): void {
  const n = unpaddedLength(value);
  if (n < MIN_LENGTH) throw new CardStatus(Sw.wrongData, "new reference data must be 6 to 8 bytes");
  for (let i = 0; i < n; i++) {
    if (value[i] === 0xff) throw new CardStatus(Sw.wrongData, "reference data padding must be trailing");
  }
}

/**
 * VERIFY the PIN. Empty data asks for the status; P1 = FF clears the verification (Yubico).
 * @throws CardStatus 63Cx wrong PIN (x tries left), 6983 blocked, 6A88 for another key reference.
 */
export async function verify(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  if (cmd.p2 !== PIN) throw new CardStatus(Sw.referenceNotFound, "only the PIV PIN (80) can be verified");
  const { pin, volatile } = ctx.state;
  if (cmd.p1 === 0xff) {
    if (cmd.data.length !== 0) throw new CardStatus(Sw.wrongData, "VERIFY with P1 FF takes no data");
    volatile.pinVerified = false;
    volatile.pinAlwaysGrant = false;
    return new Uint8Array(0);
  }
  if (cmd.p1 !== 0x00) throw new CardStatus(Sw.incorrectP1P2, "VERIFY needs P1 00 or FF");
  if (cmd.data.length === 0) {
    if (pin.blocked) throw new CardStatus(Sw.authMethodBlocked, "PIN is blocked");
    if (volatile.pinVerified) return new Uint8Array(0);
    throw wrong(pin, "PIN status: not verified");
  }
  if (cmd.data.length !== REFERENCE_LENGTH) throw new CardStatus(Sw.wrongData, "PIN must be padded to 8 bytes");
  if (pin.blocked) throw new CardStatus(Sw.authMethodBlocked, "PIN is blocked");
  if (!pin.check(cmd.data)) {
    volatile.pinVerified = false;
    volatile.pinAlwaysGrant = false;
    throw wrong(pin, "PIN");
  }
  volatile.pinVerified = true;
  volatile.pinAlwaysGrant = true;
  return new Uint8Array(0);
}

/**
 * CHANGE REFERENCE DATA: current ‖ new, 8 bytes each, for the PIN (80) or PUK (81).
 * @throws CardStatus 63Cx wrong current value, 6983 blocked, 6A80 bad new value, 6A88 other reference.
 */
export async function changeReferenceData(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  if (cmd.p1 !== 0x00) throw new CardStatus(Sw.incorrectP1P2, "CHANGE REFERENCE DATA needs P1 00");
  if (cmd.p2 !== PIN && cmd.p2 !== PUK) throw new CardStatus(Sw.referenceNotFound, "only PIN (80) and PUK (81)");
  const ref = cmd.p2 === PIN ? ctx.state.pin : ctx.state.puk;
  const what = cmd.p2 === PIN ? "PIN" : "PUK";
  if (cmd.data.length !== 2 * REFERENCE_LENGTH) throw new CardStatus(Sw.wrongData, "expected 16 bytes");
  if (ref.blocked) throw new CardStatus(Sw.authMethodBlocked, `${what} is blocked`);
  const current = cmd.data.subarray(0, REFERENCE_LENGTH);
  const next = cmd.data.subarray(REFERENCE_LENGTH);
  if (!ref.check(current)) {
    if (cmd.p2 === PIN) ctx.state.volatile.pinVerified = false;
    throw wrong(ref, what);
  }
  checkNewValue(next);
  ref.set(next);
  return new Uint8Array(0);
}

/**
 * RESET RETRY COUNTER: PUK ‖ new PIN; a correct PUK sets the PIN and restores its tries.
 * @throws CardStatus 63Cx wrong PUK (x PUK tries left), 6983 PUK blocked, 6A80 bad new PIN.
 */
export async function resetRetryCounter(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  if (cmd.p1 !== 0x00) throw new CardStatus(Sw.incorrectP1P2, "RESET RETRY COUNTER needs P1 00");
  if (cmd.p2 !== PIN) throw new CardStatus(Sw.referenceNotFound, "only the PIN (80) can be reset");
  if (cmd.data.length !== 2 * REFERENCE_LENGTH) throw new CardStatus(Sw.wrongData, "expected 16 bytes");
  const { puk, pin } = ctx.state;
  if (puk.blocked) throw new CardStatus(Sw.authMethodBlocked, "PUK is blocked");
  if (!puk.check(cmd.data.subarray(0, REFERENCE_LENGTH))) throw wrong(puk, "PUK");
  const next = cmd.data.subarray(REFERENCE_LENGTH);
  checkNewValue(next);
  pin.set(next);
  return new Uint8Array(0);
}
