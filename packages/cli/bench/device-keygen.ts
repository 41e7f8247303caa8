/**
 * Key generation time per device and algorithm: the virtual PIV card (APDUs, in memory), a
 * SoftHSM2 token and a TPM virtual smart card (tpm2-pkcs11 over swtpm), each through its
 * cardwright `Device` — the call the issue workflow makes for every certificate. Each device
 * is started here (private SoftHSM2 directory, private swtpm stack) and stopped afterwards.
 */
import type { Device, KeyAlgorithm } from "@cardwright/core";
import { PivDevice } from "@cardwright/pcsc";
import { Pkcs11DeviceProvider } from "@cardwright/pkcs11";
import { createSoftHsm, startTpmVsc } from "@cardwright/pkcs11/testing";
import { InMemoryTransport, VirtualPivCard } from "@cardwright/simulator";
import { type BenchSection, fixed, summarize, table, timed } from "./stats.js";

const ALGORITHMS: readonly KeyAlgorithm[] = ["ECCP256", "ECCP384", "RSA2048", "RSA3072"];
const ALGORITHM_NAMES: Readonly<Record<KeyAlgorithm, string>> = {
  ECCP256: "P-256",
  ECCP384: "P-384",
  RSA2048: "RSA-2048",
  RSA3072: "RSA-3072",
};

/** A device ready to generate keys (admin and PIN done), and how to slot each algorithm. */
interface BenchDevice {
  name: string;
  /** Short name for the console headline. */
  short: string;
  device: Device;
  slotOf(algorithm: KeyAlgorithm): string;
  /**
   * Called before each key pair, untimed, where a device needs a fresh session per key pair:
   * tpm2-pkcs11 keeps every generated key's TPM context loaded until its session closes, and
   * tpm2-abrmd allows 27 per connection, so the 14th key pair in one session fails with
   * "out of memory for object contexts" (an issue makes one or two per session).
   */
  beforeEach?(): Promise<void>;
  close(): Promise<void>;
}

async function virtualPiv(): Promise<BenchDevice> {
  const card = await VirtualPivCard.create();
  const device = await PivDevice.open(new InMemoryTransport(card));
  const factory = await device.factoryCredentials();
  await device.authenticateAdmin(factory.admin);
  return {
    name: "virtual PIV card (in memory)",
    short: "PIV",
    device,
    slotOf: () => "9a",
    close: () => device.close(),
  };
}

async function softHsm(): Promise<BenchDevice> {
  const softhsm = await createSoftHsm({ labels: ["cw-bench"] });
  const provider = new Pkcs11DeviceProvider({ module: softhsm.module });
  try {
    const device = await provider.open({ label: "cw-bench" });
    await device.verifyPin(softhsm.userPin);
    return {
      name: "SoftHSM2 2.6 (PKCS#11)",
      short: "SoftHSM2",
      device,
      slotOf: () => "01",
      close: async () => {
        await device.close();
        await provider.close();
        await softhsm.close();
      },
    };
  } catch (err) {
    await provider.close();
    await softhsm.close();
    throw err;
  }
}

async function tpmVsc(): Promise<BenchDevice> {
  const vsc = await startTpmVsc({ labels: ["cw-bench"] });
  const provider = new Pkcs11DeviceProvider({ module: vsc.module, profile: "tpm-vsc" });
  const session = async (): Promise<Device> => {
    const device = await provider.open({ label: "cw-bench" });
    await device.verifyPin(vsc.userPin);
    return device;
  };
  try {
    const bench: BenchDevice = {
      name: "TPM virtual smart card (tpm2-pkcs11, swtpm; a session per key pair)",
      short: "TPM-VSC",
      device: await session(),
      slotOf: () => "01",
      beforeEach: async () => {
        await bench.device.close();
        bench.device = await session();
      },
      close: async () => {
        await bench.device.close();
        await provider.close();
        await vsc.close();
      },
    };
    return bench;
  } catch (err) {
    await provider.close();
    await vsc.close();
    throw err;
  }
}

interface Row {
  device: string;
  short: string;
  algorithm: KeyAlgorithm;
  samples: number[];
}

/** Runs the key generation measurement with `samples` key pairs per device and algorithm. */
export async function measureDeviceKeygen(options: { samples: number }): Promise<BenchSection> {
  const rows: Row[] = [];
  const unsupported: string[] = [];
  for (const start of [virtualPiv, softHsm, tpmVsc]) {
    const bench = await start();
    try {
      for (const algorithm of ALGORITHMS) {
        if (!bench.device.capabilities.keyAlgorithms.includes(algorithm)) {
          unsupported.push(`${bench.name}: ${ALGORITHM_NAMES[algorithm]}`);
          continue;
        }
        const samples: number[] = [];
        for (let i = 0; i < options.samples; i++) {
          await bench.beforeEach?.();
          const { ms } = await timed(() => bench.device.generateKeyPair(bench.slotOf(algorithm), algorithm));
          samples.push(ms);
        }
        rows.push({ device: bench.name, short: bench.short, algorithm, samples });
      }
    } finally {
      await bench.close();
    }
  }
  const markdown = [
    `Key pair generation through each device's \`Device.generateKeyPair\` (the call issue makes per certificate), ${options.samples} key pairs per row, in sequence; milliseconds.`,
    "",
    table(
      ["device", "algorithm", "n", "median", "p95", "mean", "min", "max"],
      rows.map((r) => {
        const s = summarize(r.samples);
        return [
          r.device,
          ALGORITHM_NAMES[r.algorithm],
          s.n,
          fixed(s.median),
          fixed(s.p95),
          fixed(s.mean),
          fixed(s.min),
          fixed(s.max),
        ];
      }),
    ),
    "",
    unsupported.length === 0 ? "" : `Not offered by the device (capabilities): ${unsupported.join("; ")}.`,
  ].join("\n");
  const headline: Record<string, number> = {};
  for (const r of rows)
    headline[`${r.short} ${ALGORITHM_NAMES[r.algorithm]} median ms`] = Number(fixed(summarize(r.samples).median));
  return { title: "Device key generation", markdown, headline };
}
