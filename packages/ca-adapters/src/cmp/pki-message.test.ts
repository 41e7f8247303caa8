import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import { BodyType } from "./pki-body.js";
import { decodePkiMessage, finishMessage, nullDn, prepareMessage } from "./pki-message.js";

const header = {
  sender: nullDn(),
  recipient: nullDn(),
  messageTime: new Date("2026-01-02T03:04:05Z"),
  senderKid: new TextEncoder().encode("ref"),
  transactionId: Uint8Array.from({ length: 16 }, (_, i) => i),
  senderNonce: Uint8Array.from({ length: 16 }, (_, i) => 255 - i),
  recipNonce: Uint8Array.of(9, 9, 9),
  freeText: ["hello"],
};

describe("PKIMessage (RFC 4210 §5.1)", () => {
  it("decodes what it encodes, with the ProtectedPart the protection was computed over", () => {
    const prepared = prepareMessage(header, BodyType.pkiconf, new asn1js.Null());
    const der = finishMessage(prepared, Uint8Array.of(1, 2, 3), []);
    const message = decodePkiMessage(der);
    expect(message.bodyType).toBe(BodyType.pkiconf);
    expect(message.header.pvno).toBe(2);
    expect(message.header.transactionId).toEqual(header.transactionId);
    expect(message.header.senderNonce).toEqual(header.senderNonce);
    expect(message.header.recipNonce).toEqual(header.recipNonce);
    expect(message.header.senderKid).toEqual(header.senderKid);
    expect(message.header.freeText).toEqual(["hello"]);
    expect(message.protection).toEqual(Uint8Array.of(1, 2, 3));
    expect(message.protectedPart).toEqual(prepared.protectedPart);
    expect(message.extraCerts).toEqual([]);
  });

  it("refuses garbage, trailing bytes and an untagged body as CA_BAD_RESPONSE", () => {
    const bad = { code: "CA_BAD_RESPONSE" };
    expect(() => decodePkiMessage(Uint8Array.of(0x30, 0x05, 1))).toThrow(expect.objectContaining(bad));
    const der = finishMessage(prepareMessage(header, BodyType.pkiconf, new asn1js.Null()), Uint8Array.of(1), []);
    expect(() => decodePkiMessage(Uint8Array.of(...der, 0))).toThrow(/trailing/);
    const untagged = new asn1js.Sequence({
      value: [asn1js.fromBER(prepareMessage(header, 19, new asn1js.Null()).header).result, new asn1js.Null()],
    });
    expect(() => decodePkiMessage(new Uint8Array(untagged.toBER(false)))).toThrow(expect.objectContaining(bad));
  });
});
