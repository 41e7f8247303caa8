#!/usr/bin/env node
// Installs the system packages the test suite needs, on a fresh Debian machine, skipping what is
// already there (`apt-get update` once, only when something is missing), then builds the native
// addons that could not build before those packages were in.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Debian packages, each with the reason a test needs it. */
const packages = [
  ["openssl", "cross-checks: openssl verify / req -verify / crl on issued certificates and CSRs"],
  ["pcscd", "the PC/SC daemon the PC/SC transport talks to"],
  ["libpcsclite-dev", "headers the smartcard binding is built against"],
  ["vsmartcard-vpcd", "the virtual reader driver that puts virtual cards behind pcscd"],
  ["pcsc-tools", "pcsc_scan, to inspect readers by hand"],
  ["opensc", "interop: pkcs11-tool and pkcs15-tool read what cardwright wrote"],
  ["yubico-piv-tool", "interop and benchmark: yubico-piv-tool on the same virtual card"],
  ["yubikey-manager", "interop: ykman piv info against the virtual YubiKey"],
  ["postgresql", "the PostgreSQL server the store tests start on loopback"],
  ["softhsm2", "a real PKCS#11 token (SoftHSM2) for the PKCS#11 device tests"],
  ["swtpm", "a software TPM 2.0 under the TPM virtual smart card tests"],
  ["swtpm-tools", "swtpm_setup, to manufacture the software TPM's state"],
  ["tpm2-tools", "tpm2_* commands to inspect the software TPM"],
  ["tpm2-abrmd", "the TPM resource manager tpm2-pkcs11 needs (the direct swtpm TCTI runs out of object memory)"],
  ["libtss2-tcti-swtpm0", "the TCTI through which tpm2-abrmd reaches swtpm"],
  ["libtss2-tcti-tabrmd0", "the TCTI through which tpm2-pkcs11 reaches tpm2-abrmd"],
  ["libtpm2-pkcs11-1", "the TPM virtual smart card's PKCS#11 module (tpm2-pkcs11)"],
  ["libtpm2-pkcs11-tools", "tpm2_ptool, to create the TPM token"],
  ["dbus", "a private session bus for tpm2-abrmd"],
  ["pebble", "a real ACME (RFC 8555) server for the ACME adapter tests"],
  ["golang-cfssl", "CloudFlare's cfssl CA server for the cfssl adapter tests"],
  ["sqlite3", "creates the certificate database of the cfssl server the cfssl tests start"],
  ["python3-aiosmtpd", "a real SMTP server (aiosmtpd) for the SMTP notifier tests"],
];

/** Native addons (optional dependencies) that build only once the packages above are in. */
const nativeAddons = [
  ["smartcard", "node_modules/smartcard/build/Release/smartcard_napi.node"],
  ["pkcs11js", "node_modules/pkcs11js/build/Release/pkcs11.node"],
];

function installed(name) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", name], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

function installPackages() {
  const missing = packages.filter(([name]) => !installed(name));
  if (missing.length === 0) {
    console.log(`setup: all ${packages.length} system packages present`);
    return;
  }
  if (process.platform !== "linux" || spawnSync("which", ["apt-get"]).status !== 0) {
    console.error(`setup: install these packages by hand: ${missing.map(([n]) => n).join(", ")}`);
    process.exit(1);
  }
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const run = (args) => execFileSync(sudo[0] ?? args[0], sudo.length ? args : args.slice(1), { stdio: "inherit" });
  for (const [name, why] of missing) console.log(`setup: installing ${name} (${why})`);
  run(["apt-get", "update"]);
  run([
    "env",
    "DEBIAN_FRONTEND=noninteractive",
    "apt-get",
    "install",
    "-y",
    "--no-install-recommends",
    ...missing.map(([n]) => n),
  ]);
}

function buildNativeAddons() {
  for (const [name, artifact] of nativeAddons) {
    if (existsSync(artifact)) continue;
    console.log(`setup: building ${name} (its binding needs the system packages)`);
    execFileSync("npm", ["rebuild", name], { stdio: "inherit" });
    if (!existsSync(artifact)) {
      console.error(`setup: ${name} did not build: ${artifact} is missing`);
      process.exit(1);
    }
  }
}

installPackages();
buildNativeAddons();
