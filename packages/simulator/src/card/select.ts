/**
 * SELECT (ISO/IEC 7816-4 §11.2.2; SP 800-73-4 Part 2 §3.1.1). The PIV application answers with
 * its application property template; a right-truncated AID selects it too (the PIX without the
 * version suffix, or the bare RID libykpiv sends).
 *
 * Security status follows the YubiKey, not the letter of SP 800-73-4 (which keeps it on a
 * re-SELECT of PIV and ignores unknown AIDs): since YubiKey 4 every SELECT — of PIV again or of
 * an AID the card lacks — resets the PIN and management-key status (OpenSC issue #624 and pull
 * request #1243, where OpenSC works around exactly this).
 */
import { concat, Sw, tlv } from "@cardwright/pcsc";
import type { CardContext } from "./card-state.js";
import type { CommandApdu } from "./command-apdu.js";
import { CardStatus } from "./status.js";

/** Full PIV AID with version suffix: RID A000000308, PIX 00001000 0100. */
export const PIV_FULL_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00);
const RID_LENGTH = 5;

/** Application property template as a YubiKey returns it: 4F PIX-and-version, 79 { 4F RID }. */
export function applicationPropertyTemplate(): Uint8Array {
  return tlv(
    0x61,
    tlv(0x4f, PIV_FULL_AID.subarray(RID_LENGTH)),
    tlv(0x79, tlv(0x4f, PIV_FULL_AID.subarray(0, RID_LENGTH))),
  );
}

function isPivAid(aid: Uint8Array): boolean {
  if (aid.length < RID_LENGTH || aid.length > PIV_FULL_AID.length) return false;
  return aid.every((b, i) => b === PIV_FULL_AID[i]);
}

/**
 * SELECT by DF name (P1 = 04).
 * @throws CardStatus 6A86 for other P1/P2, 6A82 for an unknown application.
 */
export async function select(ctx: CardContext, cmd: CommandApdu): Promise<Uint8Array> {
  if (cmd.p1 !== 0x04 || (cmd.p2 !== 0x00 && cmd.p2 !== 0x0c)) {
    throw new CardStatus(Sw.incorrectP1P2, "only SELECT by DF name is supported");
  }
  ctx.state.volatile.clear();
  if (!isPivAid(cmd.data)) throw new CardStatus(Sw.fileNotFound, "no application with this AID");
  ctx.state.selected = true;
  // P2 = 0C asks for no response data.
  return cmd.p2 === 0x0c ? new Uint8Array(0) : concat(applicationPropertyTemplate());
}
