#!/usr/bin/env node
/**
 * The `cardwright` command.
 *
 *   cardwright demo [--workspace DIR] [--approval] [--user ID]
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { isCardwrightError } from "@cardwright/core";
import { runDemo } from "./demo/run-demo.js";

const USAGE = `Usage: cardwright <command> [options]

Commands:
  demo        Issue a card to a sample user on a virtual YubiKey, with the embedded CA and store
              --workspace DIR   workspace directory (default: .cardwright/demo)
              --approval        the CA holds requests; approve them and continue the issue
              --user ID         sample user: alice (default) or bob
  help        Show this text
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "demo": {
      const { values } = parseArgs({
        args: rest,
        options: {
          workspace: { type: "string", default: ".cardwright/demo" },
          approval: { type: "boolean", default: false },
          user: { type: "string", default: "alice" },
        },
        strict: true,
      });
      await runDemo({
        workspace: resolve(values.workspace),
        approval: values.approval,
        userId: values.user,
        out: (line) => process.stdout.write(`${line}\n`),
      });
      return 0;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`cardwright: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (isCardwrightError(err)) {
      process.stderr.write(`cardwright: ${err.message} [${err.code}]\n`);
    } else {
      process.stderr.write(`cardwright: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    process.exitCode = 1;
  },
);
