/** Plain-text rendering of cards and progress for the terminal. */
import type { CardRecord, CertificateRecord } from "@cardwright/core";

/** One line per step: `[3/9] generating key in 9a (ECCP256)`. */
export function progressLine(index: number, total: number, label: string): string {
  const width = String(total).length;
  return `  [${String(index).padStart(width)}/${total}] ${label}`;
}

/** A card and its certificates, as a small table. */
export function renderCard(card: CardRecord, certificates: readonly CertificateRecord[]): string {
  const lines = [
    `Card ${card.id}`,
    `  device    ${card.deviceModel ?? card.deviceType} serial ${card.deviceSerial}`,
    `  user      ${card.userId ?? "-"}`,
    `  policy    ${card.policyId ?? "-"} v${card.policyVersion ?? "-"}`,
    `  state     ${card.state}`,
  ];
  if (card.chuidGuid) lines.push(`  CHUID     GUID ${card.chuidGuid}`);
  const sorted = [...certificates].sort((a, b) => a.slot.localeCompare(b.slot));
  for (const c of sorted) {
    lines.push(
      `  slot ${c.slot}   ${c.status.padEnd(8)} serial ${c.serialHex ?? "-"}`,
      `            subject ${c.subject ?? "-"}`,
      `            expires ${c.notAfter ?? "-"}`,
    );
  }
  return lines.join("\n");
}
