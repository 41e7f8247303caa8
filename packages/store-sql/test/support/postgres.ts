/**
 * A private PostgreSQL cluster for tests: initdb in a temp directory, the server on a loopback
 * port with its socket in that directory, stopped (and the directory removed) by `stop()`.
 * Runs as the `postgres` user when the tests run as root, since the server refuses root.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = process.env.CARDWRIGHT_PG_BIN ?? "/usr/lib/postgresql/15/bin";

export interface PostgresCluster {
  port: number;
  dir: string;
  /** `postgresql://postgres@127.0.0.1:<port>/<database>`. */
  url(database?: string): string;
  /** Creates a database (and returns its URL). */
  createDatabase(name: string): string;
  stop(): void;
}

/** Whether the PostgreSQL binaries are installed (`npm run setup`). */
export function postgresAvailable(): boolean {
  return existsSync(join(BIN, "initdb")) && existsSync(join(BIN, "pg_ctl"));
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function asPostgres(command: string, args: string[]): { status: number | null; stderr: string } {
  const root = process.getuid?.() === 0;
  const r = root
    ? spawnSync("su", ["postgres", "-s", "/bin/sh", "-c", [command, ...args].map(shellQuote).join(" ")], {
        encoding: "utf8",
      })
    : spawnSync(command, args, { encoding: "utf8" });
  return { status: r.status, stderr: `${r.stderr ?? ""}${r.stdout ?? ""}` };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Starts a new cluster on a free port from a range unlikely to clash (retrying another port when
 * the server cannot bind). Callers must `stop()` it, also on failure (an `afterAll`).
 */
export async function startPostgres(): Promise<PostgresCluster> {
  if (!postgresAvailable()) {
    throw new Error(`PostgreSQL binaries not found in ${BIN}: run \`npm run setup\`, or set CARDWRIGHT_PG_BIN`);
  }
  const dir = mkdtempSync(join(tmpdir(), "cw-pg-"));
  chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  const init = asPostgres(join(BIN, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr}`);
  }
  let lastError = "";
  for (let attempt = 0; attempt < 8; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (!(await portIsFree(port))) continue;
    const started = asPostgres(join(BIN, "pg_ctl"), [
      "-D",
      data,
      "-w",
      "-l",
      join(dir, "server.log"),
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      "start",
    ]);
    if (started.status === 0) {
      const url = (database = "postgres") => `postgresql://postgres@127.0.0.1:${port}/${database}`;
      return {
        port,
        dir,
        url,
        createDatabase(name) {
          const r = spawnSync(
            join(BIN, "psql"),
            ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-c", `CREATE DATABASE "${name}"`],
            {
              encoding: "utf8",
            },
          );
          if (r.status !== 0) throw new Error(`createdb ${name} failed: ${r.stderr}`);
          return url(name);
        },
        stop() {
          asPostgres(join(BIN, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    lastError = started.stderr;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`could not start postgresql: ${lastError}`);
}
