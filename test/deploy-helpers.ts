/** Checks shared by the deployment tests: an invocation in a service file or manifest is one the CLI takes. */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { COMMAND_SUMMARIES, loadCommand } from "../pipeline/cli/main.ts";
import { COMMON_OPTIONS, type OptionSpec } from "../pipeline/cli/command.ts";
import { ROOT } from "./helpers.ts";

/** Where every deployment installs vigil. */
export const INSTALL_DIR = "/opt/vigil";

/** Checks `node /opt/vigil/bin/vigil.js COMMAND --flags...` against the CLI; returns the command and its values. */
export async function checkInvocation(argv: string[], where: string) {
  const script = argv.findIndex((arg) => arg.endsWith("/bin/vigil.js"));
  assert.ok(script > 0 && /(^|\/)node$/.test(argv[script - 1]), `${where}: runs bin/vigil.js with node: ${argv.join(" ")}`);
  assert.equal(argv[script], `${INSTALL_DIR}/bin/vigil.js`, `${where}: the install path`);
  assert.ok(existsSync(join(ROOT, "bin", "vigil.js")));
  const name = argv[script + 1];
  const command = await loadCommand(name);
  assert.ok(name in COMMAND_SUMMARIES && command, `${where}: "${name}" is a vigil command`);
  const specs: Record<string, OptionSpec> = { ...COMMON_OPTIONS, ...command.options };
  const values: Record<string, string | true> = {};
  const rest = argv.slice(script + 2);
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i].replace(/^--/, "");
    const spec = specs[flag];
    assert.ok(rest[i].startsWith("--") && spec, `${where}: vigil ${name} has no option ${rest[i]}`);
    values[flag] = spec.type === "string" ? rest[++i] : true;
    if (spec.type === "string") assert.ok(values[flag] !== undefined && !String(values[flag]).startsWith("--"), `${where}: ${rest[i - 1]} needs a value`);
  }
  if (values["log-format"] !== undefined) assert.ok(["json", "pretty"].includes(String(values["log-format"])));
  return { name, values, specs };
}
