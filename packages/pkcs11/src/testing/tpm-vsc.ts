/**
 * A TPM virtual smart card for tests and benchmarks, every part real: swtpm (a software TPM 2.0)
 * on 127.0.0.1, a private D-Bus session bus, tpm2-abrmd (the access broker) on that bus, and a
 * tpm2-pkcs11 store with tokens made by `tpm2_ptool addtoken`. tpm2-pkcs11 talks to the TPM
 * through abrmd: its direct swtpm TCTI fails (TPM_RC 0x902, out of object memory) once it holds
 * several objects.
 *
 * tpm2-pkcs11 reads TPM2_PKCS11_TCTI and TPM2_PKCS11_STORE when the module is loaded, and pkcs11js
 * loads a module once per process: start this before the module is loaded, and use one per process.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where Debian's libtpm2-pkcs11-1 installs the module. */
export const TPM2_PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";

/** A running TPM virtual smart card stack. */
export interface TpmVsc {
  readonly module: string;
  readonly dir: string;
  /** Labels of the tokens created, in order. */
  readonly labels: readonly string[];
  readonly soPin: string;
  readonly userPin: string;
  /** Environment for child processes (pkcs11-tool, tpm2_ptool) that must reach the same TPM and store. */
  readonly env: NodeJS.ProcessEnv;
  /** Add another token (tpm2_ptool addtoken) — visible to a module loaded after this call only. */
  addToken(label: string): Promise<void>;
  /** Stop abrmd, the bus and swtpm, remove the directory, restore the environment. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link startTpmVsc}. */
export interface StartTpmVscOptions {
  labels?: readonly string[];
  soPin?: string;
  userPin?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { env, encoding: "utf8", timeout: 120_000 }, (error, stdout, stderr) => {
      if (error !== null) {
        const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
        reject(
          new Error(missing ? `${file} is not installed` : `${file} ${args[0] ?? ""} failed: ${stderr.slice(-2000)}`),
        );
        return;
      }
      resolve(stdout);
    });
  });
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 40000 + Math.floor(Math.random() * 5000) * 2;
    if ((await portFree(base)) && (await portFree(base + 1))) return base;
  }
  throw new Error("no two free TCP ports for swtpm");
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const started = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of started) child.kill("SIGKILL");
});

function launch(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; output: () => string } {
  const child = spawn(file, [...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  started.add(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.once("exit", () => started.delete(child));
  child.once("error", (err) => {
    output += `\n${err.message}`;
  });
  return { child, output: () => output };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
  if (!done) {
    child.kill("SIGKILL");
    await exited;
  }
}

/** Environment variables this stack sets in `process.env`, restored by `close`. */
const ENV_KEYS = ["TPM2_PKCS11_TCTI", "TPM2_PKCS11_STORE", "TPM2TOOLS_TCTI", "DBUS_SESSION_BUS_ADDRESS"] as const;

/**
 * Start swtpm, a private D-Bus bus and tpm2-abrmd, make a tpm2-pkcs11 store with the given tokens,
 * and set `process.env` so the module loaded next uses them.
 * @throws Error naming the part that did not start (with its output).
 */
export async function startTpmVsc(options: StartTpmVscOptions = {}): Promise<TpmVsc> {
  const dir = mkdtempSync(join(tmpdir(), "cw-tpmvsc-"));
  const state = join(dir, "tpm-state");
  const store = join(dir, "pkcs11-store");
  mkdirSync(state);
  mkdirSync(store);
  const soPin = options.soPin ?? "87654321";
  const userPin = options.userPin ?? "123456";
  const children: ChildProcess[] = [];
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const child of children.reverse()) await stop(child);
    for (const key of ENV_KEYS) {
      const value = saved[key];
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePortPair();
    const swtpm = launch(
      "swtpm",
      [
        "socket",
        "--tpm2",
        "--server",
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        "--ctrl",
        `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
        "--tpmstate",
        `dir=${state}`,
        "--flags",
        "startup-clear",
      ],
      process.env,
    );
    children.push(swtpm.child);
    await until(async () => accepting(port), `swtpm on port ${port} (${swtpm.output()})`, 10_000);

    const dbus = launch("dbus-daemon", ["--session", "--print-address", "--nofork"], process.env);
    children.push(dbus.child);
    await until(
      async () => /^unix:\S+/m.test(dbus.output()),
      `dbus-daemon to print its address (${dbus.output()})`,
      10_000,
    );
    const busAddress = (/^(unix:\S+)/m.exec(dbus.output()) as RegExpExecArray)[1] as string;

    const tcti = "tabrmd:bus_type=session";
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DBUS_SESSION_BUS_ADDRESS: busAddress,
      TPM2TOOLS_TCTI: tcti,
      TPM2_PKCS11_TCTI: tcti,
      TPM2_PKCS11_STORE: store,
    };
    const abrmd = launch("tpm2-abrmd", ["--session", "--allow-root", `--tcti=swtpm:host=127.0.0.1,port=${port}`], env);
    children.push(abrmd.child);
    await until(
      async () =>
        run("tpm2_getrandom", ["--hex", "8"], env).then(
          () => true,
          () =>
            abrmd.child.exitCode !== null ? Promise.reject(new Error(`tpm2-abrmd exited: ${abrmd.output()}`)) : false,
        ),
      `tpm2-abrmd to answer on the session bus (${abrmd.output()})`,
      20_000,
    );
    await run("tpm2_ptool", ["init", `--path=${store}`], env);
    const labels: string[] = [];
    const addToken = async (label: string) => {
      await run(
        "tpm2_ptool",
        ["addtoken", "--pid=1", `--label=${label}`, `--sopin=${soPin}`, `--userpin=${userPin}`, `--path=${store}`],
        env,
      );
      labels.push(label);
    };
    for (const label of options.labels ?? ["cardwright-vsc"]) await addToken(label);
    for (const key of ENV_KEYS) process.env[key] = env[key];
    return { module: TPM2_PKCS11_MODULE, dir, labels, soPin, userPin, env, addToken, close };
  } catch (err) {
    await close();
    throw err;
  }
}
