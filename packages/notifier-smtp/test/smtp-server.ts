/**
 * A real SMTP server for the tests: aiosmtpd (Debian `python3-aiosmtpd`) on 127.0.0.1 and a free
 * port, delivering into a Maildir; messages are read back with Python's own `email` parser, so
 * what we check is what a mail client would see.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian's interpreter, where python3-aiosmtpd is installed (not a pyenv one earlier on PATH). */
const PYTHON = "/usr/bin/python3";

/** A received mail as Python's `email` package parses it. */
export interface ReceivedMail {
  from: string;
  to: string;
  subject: string;
  /** Decoded text/plain part. */
  text: string;
  /** Decoded text/html part. */
  html: string;
  /** The whole message as it arrived, undecoded. */
  raw: string;
}

export interface SmtpServer {
  port: number;
  /** Mails delivered so far, oldest first. */
  received(): ReceivedMail[];
  stop(): Promise<void>;
}

const PARSE = `
import email, email.policy, json, os, sys
out = []
d = os.path.join(sys.argv[1], "new")
for name in sorted(os.listdir(d), key=lambda n: os.stat(os.path.join(d, n)).st_mtime_ns):
    raw = open(os.path.join(d, name), "rb").read()
    m = email.message_from_bytes(raw, policy=email.policy.default)
    text = m.get_body(("plain",))
    html = m.get_body(("html",))
    out.append({"from": str(m["from"]), "to": str(m["to"]), "subject": str(m["subject"]),
                "text": text.get_content() if text else "", "html": html.get_content() if html else "",
                "raw": raw.decode("utf-8", "replace")})
print(json.dumps(out))
`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject()));
    });
  });
}

async function listening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`aiosmtpd exited (${child.exitCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`aiosmtpd did not listen on 127.0.0.1:${port}: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts aiosmtpd; with `tls`, it offers STARTTLS with that certificate and requires it. */
export async function startSmtpServer(tls?: { certFile: string; keyFile: string }): Promise<SmtpServer> {
  const dir = mkdtempSync(join(tmpdir(), "cw-smtp-"));
  const maildir = join(dir, "Maildir");
  const port = await freePort();
  const args = ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${port}`, "-c", "aiosmtpd.handlers.Mailbox"];
  if (tls !== undefined) args.push("--tlscert", tls.certFile, "--tlskey", tls.keyFile);
  args.push(maildir);
  const child = spawn(PYTHON, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (b) => {
    output += b;
  });
  child.stderr?.on("data", (b) => {
    output += b;
  });
  try {
    await listening(port, child, () => output);
  } catch (err) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    received: () => {
      if (!readdirSync(maildir).includes("new")) return [];
      return JSON.parse(execFileSync(PYTHON, ["-c", PARSE, maildir], { encoding: "utf8" })) as ReceivedMail[];
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A throwaway CA and a server certificate for 127.0.0.1, made with openssl. */
export function makeTlsFiles(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const f = (n: string) => join(dir, n);
  const run = (args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  run([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=cardwright test mail CA",
  ]);
  run([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    f("server.key"),
    "-out",
    f("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  const ext = f("ext.cnf");
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1\n");
  run([
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-out",
    f("server.pem"),
    "-days",
    "2",
    "-extfile",
    ext,
  ]);
  return { caFile: f("ca.pem"), certFile: f("server.pem"), keyFile: f("server.key") };
}
