/**
 * A real `cfssl serve` (Debian golang-cfssl, /usr/bin/cfssl) for tests: an EC P-256 CA made
 * with openssl in a temporary directory, a signing configuration with the profiles the tests
 * use, and (optionally) a SQLite certificate database created with the sqlite3 CLI from
 * cfssl's own schema (certdb/sqlite/migrations, as cfssl 1.2 reads it). Listens on 127.0.0.1
 * on a free port; `stop()` kills it and removes the directory.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fromPem } from "../../src/index.js";
import { freePort } from "./net.js";

const run = promisify(execFile);

/** Hex HMAC key of the `piv-auth-hmac` profile. */
export const CFSSL_TEST_AUTH_KEY = "3f1c9a7be2d84c05a6b1e09f7d2c4b8a";

/** Validity of every profile, in days. */
export const CFSSL_TEST_VALIDITY_DAYS = 365;

export interface CfsslServer {
  url: string;
  dir: string;
  /** The CA certificate, DER. */
  caCertificate: Uint8Array;
  /** Path of the SQLite certificate database, when started with one. */
  dbPath?: string;
  /** Everything cfssl wrote on stderr so far (for failure messages). */
  log(): string;
  /** Run SQL on the certificate database (sqlite3 CLI); rows as `|`-separated lines. */
  sql(query: string): Promise<string[]>;
  stop(): Promise<void>;
}

// cfssl 1.2's certificate store columns (no created_at yet; its INSERT names exactly these).
const SCHEMA = `
CREATE TABLE certificates (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  ca_label                 blob,
  status                   blob NOT NULL,
  reason                   int,
  expiry                   timestamp,
  revoked_at               timestamp,
  pem                      blob NOT NULL,
  PRIMARY KEY(serial_number, authority_key_identifier)
);
CREATE TABLE ocsp_responses (
  serial_number            blob NOT NULL,
  authority_key_identifier blob NOT NULL,
  body                     blob NOT NULL,
  expiry                   timestamp,
  PRIMARY KEY(serial_number, authority_key_identifier)
);`;

function signingConfig(): string {
  const usages = ["digital signature", "client auth"];
  const expiry = `${CFSSL_TEST_VALIDITY_DAYS * 24}h`;
  return JSON.stringify({
    signing: {
      default: { expiry, usages },
      profiles: {
        "piv-auth": { expiry, usages },
        "piv-auth-hmac": { expiry, usages, auth_key: "piv" },
        // cfssl refuses CSRs whose names do not match (PolicyError InvalidRequest, 5300).
        restricted: { expiry, usages, name_whitelist: "^allowed\\.example$" },
      },
    },
    auth_keys: { piv: { type: "standard", key: CFSSL_TEST_AUTH_KEY } },
  });
}

/** Start cfssl serve; with `database: false`, without -db-config. */
export async function startCfssl(options: { database?: boolean } = {}): Promise<CfsslServer> {
  const dir = await mkdtemp(join(tmpdir(), "cardwright-cfssl-"));
  let child: ChildProcess | undefined;
  let stderr = "";
  const stop = async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca-key.pem"], { cwd: dir });
    await run(
      "openssl",
      [
        "req",
        "-x509",
        "-new",
        "-key",
        "ca-key.pem",
        "-subj",
        "/O=Cardwright/CN=cfssl Test CA",
        "-days",
        "30",
        "-sha256",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        "ca.pem",
      ],
      { cwd: dir },
    );
    await writeFile(join(dir, "config.json"), signingConfig());
    const args = ["serve", "-address", "127.0.0.1", "-ca", "ca.pem", "-ca-key", "ca-key.pem", "-config", "config.json"];
    let dbPath: string | undefined;
    if (options.database !== false) {
      dbPath = join(dir, "certdb.sqlite");
      await run("sqlite3", [dbPath, SCHEMA]);
      await writeFile(join(dir, "db.json"), JSON.stringify({ driver: "sqlite3", data_source: dbPath }));
      args.push("-db-config", "db.json");
    }
    const port = await freePort();
    args.push("-port", String(port));
    child = spawn("/usr/bin/cfssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    const started = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cfssl serve did not start in 15 s:\n${stderr}`)), 15_000);
      started.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes("Now listening on")) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`cfssl serve exited with ${code}:\n${stderr}`));
      });
    });
    const caCertificate = fromPem(await readFile(join(dir, "ca.pem"), "utf8"), "CERTIFICATE");
    return {
      url: `http://127.0.0.1:${port}`,
      dir,
      caCertificate,
      ...(dbPath === undefined ? {} : { dbPath }),
      log: () => stderr,
      async sql(query) {
        if (dbPath === undefined) throw new Error("this cfssl runs without a database");
        const { stdout } = await run("sqlite3", [dbPath, query]);
        return stdout.split("\n").filter((line) => line !== "");
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
