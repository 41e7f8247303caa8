/**
 * The byte pipe under the card edge. PC/SC readers, the in-memory link to a virtual card and
 * test doubles all implement it; everything above (chaining, GET RESPONSE, status words) is
 * transport-agnostic.
 */

/** Options for one exchange. */
export interface TransmitOptions {
  /** Give up after this many milliseconds (`APDU_TIMEOUT`). */
  timeoutMs?: number;
}

/**
 * Sends raw command APDUs and returns raw response APDUs (data followed by SW1 SW2).
 * @throws CardwrightError `APDU_CARD_REMOVED` when the card went away, `APDU_TIMEOUT`,
 * `APDU_TRANSPORT` for other link failures.
 */
export interface ApduTransport {
  transmit(command: Uint8Array, options?: TransmitOptions): Promise<Uint8Array>;
  /** Answer-to-reset of the card in the reader. */
  getAtr(): Promise<Uint8Array>;
  /** Warm reset of the card; volatile state (PIN verified, selected applet) is lost. */
  reset(): Promise<void>;
  /** Human-readable reader name, for identities and errors. */
  readonly reader?: string;
}
