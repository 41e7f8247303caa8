import { describe, expect, it } from "vitest";
import { createActor, fromPromise, waitFor } from "xstate";
import { CardwrightError } from "../errors.js";
import { type PinInput, type PinStepInput, pinMachine } from "./pin-machine.js";

const input: PinInput = {
  operationId: "op-1",
  cardId: "card-1",
  userId: "ann",
  actor: "ann",
  actorKind: "user",
  operation: "change-pin",
  deviceSerial: "4242",
  cardState: "active",
};

function run(fail: Partial<Record<"connectCard" | "applyPin" | "rotatePuk" | "complete", CardwrightError>>) {
  const visited: string[] = [];
  const step = <T>(name: keyof typeof fail, output: T) =>
    fromPromise<T, PinStepInput>(async () => {
      visited.push(name);
      if (fail[name] !== undefined) throw fail[name];
      return output;
    });
  const machine = pinMachine.provide({
    actors: {
      connectCard: step<void>("connectCard", undefined),
      applyPin: step<void>("applyPin", undefined),
      rotatePuk: step<{ rotated: boolean }>("rotatePuk", { rotated: true }),
      complete: step<void>("complete", undefined),
      release: fromPromise<void, PinStepInput>(async () => {
        visited.push("release");
      }),
    },
  });
  const actor = createActor(machine, { input }).start();
  return waitFor(actor, (s) => s.status === "done").then((s) => ({ snapshot: s, visited }));
}

describe("pin machine", () => {
  it("runs connect → apply → rotate → complete and ends done", async () => {
    const { snapshot, visited } = await run({});
    expect(snapshot.value).toBe("done");
    expect(visited).toEqual(["connectCard", "applyPin", "rotatePuk", "complete"]);
    expect(snapshot.context.pukRotated).toBe(true);
  });

  it("a failed PIN command releases the card and ends failed with the card's error", async () => {
    const wrong = new CardwrightError("PIV_WRONG_PIN", "wrong PIN, 2 tries left", { details: { retriesLeft: 2 } });
    const { snapshot, visited } = await run({ applyPin: wrong });
    expect(snapshot.value).toBe("failed");
    expect(visited).toEqual(["connectCard", "applyPin", "release"]);
    expect(snapshot.context.error).toMatchObject({ code: "PIV_WRONG_PIN", details: { retriesLeft: 2 } });
  });

  it("a failed PUK rotation does not undo the PIN change: recorded, then completed", async () => {
    const { snapshot, visited } = await run({ rotatePuk: new CardwrightError("PIV_WRONG_PIN", "wrong PUK") });
    expect(snapshot.value).toBe("done");
    expect(visited).toEqual(["connectCard", "applyPin", "rotatePuk", "complete"]);
    expect(snapshot.context.rotationError?.code).toBe("PIV_WRONG_PIN");
  });

  it("keeps no secret in its persisted snapshot: only the secret-free input", async () => {
    const { snapshot } = await run({});
    const keys = Object.keys(snapshot.context).sort();
    expect(keys).toEqual([...Object.keys(input), "pukRotated"].sort());
  });
});
