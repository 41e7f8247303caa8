/**
 * A private pcscd for tests: `pcscd --foreground --apdu --debug` with its own reader.conf whose
 * vpcd readers listen on free ports of our choosing, its log kept in memory so a failing test
 * can show every APDU. Stopped after the tests, and killed on exit if a test run dies.
 *
 * Isolation facts (pcsc-lite 1.9.9, checked here): pcscd ignores PCSCLITE_CSOCK_NAME and always
 * serves /run/pcscd/pcscd.comm, refusing to start while another pcscd owns it. So there is one
 * pcscd per machine: a file lock serialises the test files (and any other process using this
 * harness) that need it. The private reader.conf still keeps our vpcd ports off the defaults
 * (35963/35964), which `cardwright simulate` users keep for themselves.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFailed } from "vitest";

const LOCK_DIR = join(tmpdir(), "cardwright-pcscd.lock");
const SOCKET = "/run/pcscd/pcscd.comm";
const PID_FILE = "/run/pcscd/pcscd.pid";
const LOG_LIMIT = 4 * 1024 * 1024;

/** A running pcscd with two vpcd readers. */
export interface Pcscd {
  /** vpcd TCP port of reader n is `ports[n]`. */
  readonly ports: readonly [number, number];
  /** PC/SC reader name of vpcd reader n ("Virtual PCD 00 0n"). */
  readonly readers: readonly [string, string];
  /** Everything pcscd logged so far (APDUs included). */
  log(): string;
  /** The log since a mark, for one test's APDUs. */
  logSince(mark: number): string;
  /** Current log length, a mark for {@link Pcscd.logSince}. */
  mark(): number;
  /** Stop pcscd and release the lock. Idempotent. */
  stop(): Promise<void>;
  /** Stop pcscd but keep the lock, to see how clients fail without a PC/SC service; `stop()` releases. */
  kill(): Promise<void>;
}

/** Options of {@link startPcscd}. */
export interface StartPcscdOptions {
  /** How long to wait for another user of pcscd to finish (default 300 s). */
  lockTimeoutMs?: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tryLock(): boolean {
  try {
    mkdirSync(LOCK_DIR);
  } catch {
    // Held: by a live process, or left behind by a dead one.
    const owner = Number(readFileSafe(join(LOCK_DIR, "pid")));
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
    rmSync(LOCK_DIR, { recursive: true, force: true });
    try {
      mkdirSync(LOCK_DIR);
    } catch {
      return false;
    }
  }
  writeFileSync(join(LOCK_DIR, "pid"), String(process.pid));
  return true;
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

function unlock(): void {
  if (readFileSafe(join(LOCK_DIR, "pid")) === String(process.pid)) rmSync(LOCK_DIR, { recursive: true, force: true });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A pcscd we did not start (a system one, or another tool's) holds the socket. */
function foreignPcscd(): number | undefined {
  if (!existsSync(SOCKET)) return undefined;
  const pid = Number(readFileSafe(PID_FILE));
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "0.0.0.0", () => server.close(() => resolve(true)));
  });
}

/** Two consecutive free ports away from vpcd's defaults. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 36000 + Math.floor(Math.random() * 2000) * 2;
    if ((await portFree(base)) && (await portFree(base + 1))) return base;
  }
  throw new Error("no two free TCP ports for vpcd");
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
  unlock();
});

/**
 * Start a private pcscd with two vpcd readers on free ports. Waits (up to `lockTimeoutMs`) for
 * other users of the harness and for a foreign pcscd to go away.
 * @throws Error when pcscd is missing (`npm run setup`), does not start, or stays busy.
 */
/** INS bytes whose command data is a secret: VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, IMPORT KEY, SET MANAGEMENT KEY. */
const SECRET_DATA_INS = new Set(["20", "24", "2C", "FE", "FF"]);

/**
 * pcscd --apdu logs every command in clear; the test PINs, PUKs and management keys in them are
 * blanked (`xx`) before the line is kept, printed or written to CW_PCSCD_LOG. Management-key
 * GENERAL AUTHENTICATE (P2 = 9B) is blanked too.
 */
export function redactApduLine(line: string): string {
  const m = /^(.*APDU: )((?:[0-9A-F]{2} ?)+)(.*)$/.exec(line);
  if (!m) return line;
  const bytes = m[2]!.trim().split(" ");
  const secret = SECRET_DATA_INS.has(bytes[1]!) || (bytes[1] === "87" && bytes[3] === "9B");
  if (!secret || bytes.length <= 5) return line;
  return `${m[1]}${[...bytes.slice(0, 5), ...bytes.slice(5).map(() => "xx")].join(" ")} ${m[3]}`;
}

export async function startPcscd(options: StartPcscdOptions = {}): Promise<Pcscd> {
  const deadline = Date.now() + (options.lockTimeoutMs ?? 300_000);
  while (!tryLock()) {
    if (Date.now() > deadline) throw new Error(`another test holds ${LOCK_DIR}; is a test run still going?`);
    await sleep(200);
  }
  try {
    for (;;) {
      const foreign = foreignPcscd();
      if (foreign === undefined) break;
      if (Date.now() > deadline) {
        throw new Error(
          `a pcscd we did not start (pid ${foreign}) is running; stop it (systemctl stop pcscd.socket pcscd)`,
        );
      }
      await sleep(200);
    }
    return await launch();
  } catch (err) {
    unlock();
    throw err;
  }
}

async function launch(): Promise<Pcscd> {
  const base = await freePortPair();
  const dir = mkdtempSync(join(tmpdir(), "cw-pcscd-"));
  const conf = join(dir, "reader.conf.d");
  mkdirSync(conf);
  const hex = `0x${base.toString(16).toUpperCase()}`;
  writeFileSync(
    join(conf, "vpcd"),
    `FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:${hex}\nLIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID    ${hex}\n`,
  );
  let log = "";
  /** Characters trimmed off the front, so marks stay valid. */
  let dropped = 0;
  const child = spawn("pcscd", ["--foreground", "--apdu", "--debug", "--config", conf], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  // CW_PCSCD_LOG=path also writes the log to a file, for a run that hangs.
  const logFile = process.env.CW_PCSCD_LOG;
  let partial = "";
  const append = (chunk: Buffer) => {
    // Whole lines only, so each APDU line can be redacted before it is kept anywhere.
    const lines = (partial + chunk.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    if (lines.length === 0) return;
    const text = `${lines.map(redactApduLine).join("\n")}\n`;
    log += text;
    if (logFile !== undefined) appendFileSync(logFile, text);
    // Keep the tail: the APDUs of the failing test are the last ones.
    if (log.length > LOG_LIMIT) {
      dropped += log.length - LOG_LIMIT / 2;
      log = log.slice(log.length - LOG_LIMIT / 2);
    }
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));

  const kill = async () => {
    if (running.has(child)) {
      running.delete(child);
      child.kill("SIGTERM");
      const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) {
        child.kill("SIGKILL");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const stop = async () => {
    await kill();
    unlock();
  };

  const ready = Date.now() + 10_000;
  for (;;) {
    if (log.includes("daemon ready")) break;
    const failed = await Promise.race([
      exited.then((code) => `exited with ${code}`),
      spawnError.then((e) => e.message),
      sleep(50).then(() => undefined),
    ]);
    if (failed !== undefined || Date.now() > ready) {
      await stop();
      throw new Error(
        `pcscd did not start (${failed ?? "timeout"}); is it installed (npm run setup)?\n${log.slice(-4000)}`,
      );
    }
  }
  return {
    ports: [base, base + 1],
    readers: ["Virtual PCD 00 00", "Virtual PCD 00 01"],
    log: () => log,
    mark: () => dropped + log.length,
    logSince: (mark) => log.slice(Math.max(0, mark - dropped)),
    stop,
    kill,
  };
}

/** Wait until `condition` holds (polling), or throw `what` after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** On failure of the current test, print what pcscd exchanged during it (secrets already blanked). */
export function showApdusOnFailure(pcscd: Pcscd): void {
  const mark = pcscd.mark();
  onTestFailed(() => {
    const lines = pcscd
      .logSince(mark)
      .split("\n")
      .filter((l) => /APDU|SW:|ifdhandler|RFAddReader|error/i.test(l))
      .slice(-200);
    console.error(`pcscd log (APDUs) of the failed test:\n${lines.join("\n")}`);
  });
}
