/**
 * A private SoftHSM2 for tests and benchmarks: its own softhsm2.conf and token directory under a
 * temp dir, tokens made with `softhsm2-util --init-token` (a tool we did not write).
 *
 * SoftHSM2 reads SOFTHSM2_CONF once, at C_Initialize, and sees tokens another process creates only
 * after the next C_Initialize: make the tokens first, then load the module. One SoftHSM2 directory
 * per process at a time (the module is loaded once per process).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where Debian's softhsm2 package installs the module. */
export const SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

/** One token made by {@link createSoftHsm}. */
export interface SoftHsmToken {
  label: string;
  serial: string;
}

/** A running private SoftHSM2 setup. */
export interface SoftHsm {
  readonly module: string;
  readonly dir: string;
  /** Path of its softhsm2.conf, also set as `process.env.SOFTHSM2_CONF`. */
  readonly conf: string;
  readonly tokens: readonly SoftHsmToken[];
  readonly soPin: string;
  readonly userPin: string;
  /** Environment for child processes (pkcs11-tool...) that must see the same tokens. */
  readonly env: NodeJS.ProcessEnv;
  /** Remove the directory and restore SOFTHSM2_CONF. */
  close(): Promise<void>;
}

/** Options of {@link createSoftHsm}. */
export interface CreateSoftHsmOptions {
  /** Labels of the tokens to create; default one token, "cardwright-test". */
  labels?: readonly string[];
  /** Test SO PIN; default "12345678". */
  soPin?: string;
  /** Test user PIN; default "123456". */
  userPin?: string;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { env, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null) {
        const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
        reject(new Error(missing ? `${file} is not installed (Debian package softhsm2)` : `${file} failed: ${stderr}`));
        return;
      }
      resolve(stdout);
    });
  });
}

/** The serial `softhsm2-util --show-slots` prints for the token labelled `label`. */
function serialFromShowSlots(output: string, label: string): string {
  for (const block of output.split(/^Slot /m)) {
    const l = /^\s*Label:\s*(.*?)\s*$/m.exec(block)?.[1];
    const serial = /^\s*Serial number:\s*(\S+)\s*$/m.exec(block)?.[1];
    if (l === label && serial !== undefined) return serial;
  }
  throw new Error(`softhsm2-util --show-slots does not list token ${label}`);
}

/**
 * Create a SoftHSM2 directory with initialised tokens and point `SOFTHSM2_CONF` at it.
 * @throws Error when softhsm2-util is missing or fails.
 */
export async function createSoftHsm(options: CreateSoftHsmOptions = {}): Promise<SoftHsm> {
  const dir = mkdtempSync(join(tmpdir(), "cw-softhsm-"));
  const tokenDir = join(dir, "tokens");
  mkdirSync(tokenDir);
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const soPin = options.soPin ?? "12345678";
  const userPin = options.userPin ?? "123456";
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const previous = process.env.SOFTHSM2_CONF;
  try {
    const labels = options.labels ?? ["cardwright-test"];
    for (const label of labels) {
      await run(
        "softhsm2-util",
        ["--init-token", "--free", "--label", label, "--so-pin", soPin, "--pin", userPin],
        env,
      );
    }
    const slots = await run("softhsm2-util", ["--show-slots"], env);
    const tokens = labels.map((label) => ({ label, serial: serialFromShowSlots(slots, label) }));
    process.env.SOFTHSM2_CONF = conf;
    return {
      module: SOFTHSM2_MODULE,
      dir,
      conf,
      tokens,
      soPin,
      userPin,
      env,
      close: async () => {
        if (previous === undefined) delete process.env.SOFTHSM2_CONF;
        else process.env.SOFTHSM2_CONF = previous;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
