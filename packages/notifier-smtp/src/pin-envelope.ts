/**
 * The printable PIN envelope: what card management systems print (or mail) when a card is issued
 * with a random PIN, so the PIN reaches its holder once, outside the system.
 */
import { escapeHtml } from "./html.js";

/** What a PIN envelope shows. The PIN is a secret: render it only for delivery, never log it. */
export interface PinEnvelopeData {
  /** The card holder's name as the directory gives it. */
  userName: string;
  /** The holder's e-mail address, when known. */
  email?: string;
  /** Kind of device, e.g. "PIV smart card". */
  deviceType: string;
  /** Device serial number as printed on or reported by the device. */
  deviceSerial: string;
  pin: string;
  /** Organisation or product name shown in the heading. */
  issuer?: string;
  /** When the envelope was produced (ISO 8601). */
  issuedAt?: string;
}

/**
 * A self-contained HTML page (inline CSS, no external resources) that prints as one A5/letter
 * page: holder and device on the outside, the PIN inside a box meant to be folded or covered.
 * Every field is HTML-escaped, so a display name cannot inject markup.
 */
export function renderPinEnvelope(data: PinEnvelopeData): string {
  const field = (label: string, value: string | undefined): string =>
    value === undefined || value === ""
      ? ""
      : `<tr><th scope="row">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`;
  return [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>PIN for ${escapeHtml(data.deviceType)} ${escapeHtml(data.deviceSerial)}</title>`,
    "<style>",
    "@page{size:A5;margin:12mm}body{font-family:sans-serif;color:#000}",
    "table{border-collapse:collapse;margin:0 0 8mm}th{text-align:left;padding:1mm 4mm 1mm 0;font-weight:normal;color:#444}",
    ".pin{border:2px dashed #000;padding:6mm;text-align:center;page-break-inside:avoid}",
    ".pin strong{display:block;font:bold 20pt monospace;letter-spacing:3pt;margin-top:2mm}",
    ".note{font-size:9pt;color:#444}",
    "</style></head><body>",
    `<h1>${escapeHtml(data.issuer ?? "Smart card")} — PIN</h1>`,
    "<table>",
    field("Card holder", data.userName),
    field("E-mail", data.email),
    field("Device", data.deviceType),
    field("Serial number", data.deviceSerial),
    field("Issued", data.issuedAt),
    "</table>",
    `<div class="pin">PIN<strong>${escapeHtml(data.pin)}</strong></div>`,
    '<p class="note">Keep this PIN secret and apart from the card. Change it at first use if your organisation ',
    "asks you to. Nobody from support will ever ask you for it.</p>",
    "</body></html>",
  ].join("\n");
}
