/**
 * A tiny authoritative DNS server (RFC 1035 §4) on 127.0.0.1 UDP for pebble's validation
 * authority (`pebble -dnsserver`): every name has A 127.0.0.1 (where the test's http-01 site
 * listens), no AAAA or CAA, and TXT records the test publishes for dns-01 (RFC 8555 §8.4).
 */
import { createSocket, type Socket } from "node:dgram";

export interface AcmeDnsServer {
  address: string;
  /** TXT records by lowercase name (e.g. `_acme-challenge.host.example`). */
  txt: Map<string, string[]>;
  /** Names asked about, with their query type number. */
  queries: { name: string; type: number }[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_TXT = 16;

function readName(message: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  for (;;) {
    const length = message[at] ?? 0;
    if (length === 0) return { name: labels.join(".").toLowerCase(), end: at + 1 };
    labels.push(message.subarray(at + 1, at + 1 + length).toString("latin1"));
    at += 1 + length;
  }
}

function record(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // pointer to the question's name
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(5, 6); // TTL
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

export async function startAcmeDns(): Promise<AcmeDnsServer> {
  const txt = new Map<string, string[]>();
  const queries: { name: string; type: number }[] = [];
  const socket: Socket = createSocket("udp4");
  socket.on("message", (message, peer) => {
    if (message.length < 12) return;
    const { name, end } = readName(message, 12);
    const type = message.readUInt16BE(end);
    queries.push({ name, type });
    const answers: Buffer[] = [];
    if (type === TYPE_A) answers.push(record(TYPE_A, Buffer.from([127, 0, 0, 1])));
    if (type === TYPE_TXT) {
      for (const value of txt.get(name) ?? []) {
        const bytes = Buffer.from(value, "latin1");
        answers.push(record(TYPE_TXT, Buffer.concat([Buffer.from([bytes.length]), bytes])));
      }
    }
    const header = Buffer.alloc(12);
    message.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8400 | (message.readUInt16BE(2) & 0x0100), 2); // QR, AA, RD echoed, NOERROR
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const question = message.subarray(12, end + 4);
    socket.send(Buffer.concat([header, question, ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    txt,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
