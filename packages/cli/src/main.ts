#!/usr/bin/env node
/**
 * The `cardwright` command.
 *
 *   cardwright demo [--workspace DIR] [--approval] [--user ID]
 *   cardwright simulate [--image PATH] [--port N] [--firmware X.Y.Z] [--serial N] [--verbose]
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { isCardwrightError } from "@cardwright/core";
import { runDemo } from "./demo/run-demo.js";
import { runSimulate } from "./simulate/run-simulate.js";

const USAGE = `Usage: cardwright <command> [options]

Commands:
  demo        Issue a card to a sample user on a virtual YubiKey, with the embedded CA and store
              --workspace DIR   workspace directory (default: .cardwright/demo)
              --approval        the CA holds requests; approve them and continue the issue
              --user ID         sample user: alice (default) or bob
  simulate    Keep a virtual YubiKey 5 in a real pcscd reader (vsmartcard vpcd) until Ctrl-C
              --image PATH      load the card from PATH if it exists; save it there on stop
              --port N          vpcd port (default 35963 = "Virtual PCD 00 00")
              --firmware X.Y.Z  firmware of a fresh card (default 5.7.1)
              --serial N        serial of a fresh card (default random)
              --verbose         print each APDU's instruction and lengths
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
    case "simulate": {
      const { values } = parseArgs({
        args: rest,
        options: {
          image: { type: "string" },
          port: { type: "string", default: "35963" },
          firmware: { type: "string" },
          serial: { type: "string" },
          verbose: { type: "boolean", default: false },
        },
        strict: true,
      });
      const stopped = new Promise<void>((done) => {
        process.once("SIGINT", () => done());
        process.once("SIGTERM", () => done());
      });
      await runSimulate({
        image: values.image === undefined ? undefined : resolve(values.image),
        port: Number(values.port),
        firmware: values.firmware,
        serial: values.serial === undefined ? undefined : Number(values.serial),
        verbose: values.verbose,
        out: (line) => process.stdout.write(`${line}\n`),
        stopped,
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
