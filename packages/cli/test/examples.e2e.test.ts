/** The examples in examples/ run as they are documented, so they cannot rot. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));

describe("examples", () => {
  it("issue-card.ts issues a smart card logon certificate", () => {
    const r = spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", `${examples}issue-card.ts`], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/issued 9a: CN=Grace Hopper,serialNumber=1042,O=Example Org, serial [0-9a-f]{32}/);
    expect(r.stdout).toMatch(/card \S+ is active/);
    expect(r.stdout).toContain("PIN for e1042 sent through the secure channel");
  });
});
