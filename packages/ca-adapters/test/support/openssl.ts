/** Runs the openssl command line in a temporary directory, to cross-check what the CA signs. */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface OpensslResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A scratch directory with helpers to write files and run openssl in it. */
export interface OpensslWorkspace {
  dir: string;
  write(name: string, content: string | Uint8Array): Promise<string>;
  run(...args: string[]): Promise<OpensslResult>;
  dispose(): Promise<void>;
}

export async function opensslWorkspace(): Promise<OpensslWorkspace> {
  const dir = await mkdtemp(join(tmpdir(), "cardwright-openssl-"));
  return {
    dir,
    async write(name, content) {
      const path = join(dir, name);
      await writeFile(path, content);
      return path;
    },
    run(...args) {
      return new Promise((resolve) => {
        execFile("openssl", args, { cwd: dir }, (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
          resolve({ code, stdout, stderr });
        });
      });
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
