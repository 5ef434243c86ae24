/**
 * The `vigil` command line: the only module that reads argv. Each command has its own file in
 * this folder, imported lazily, so `vigil status` does not pay for the chart libraries.
 */
import { parseArgs } from "node:util";
import { commandOptions, ENVIRONMENT, HOOK_ENVIRONMENT, type Command, type OptionSpec, type OptionValues } from "./command.ts";
import { resolveConfig } from "./config.ts";
import { describeError, redact, UsageError, VigilError } from "../errors.ts";
import { createLogger, type LogFormat } from "../log.ts";
import { VERSION } from "../version.ts";

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  ingest: { summary: "one sync of the dataset from the portal into the database: incremental, every row with --full", load: () => import("./ingest.ts") },
  backfill: { summary: "bulk load from the portal's CSV export, or a local export with --file", load: () => import("./backfill.ts") },
  widgets: { summary: "write chart bundles, data files and shortcodes into a Hugo site", load: () => import("./widgets.ts") },
  run: { summary: "the nightly job: ingest, then widgets, then an optional --then command", load: () => import("./run.ts") },
  schedule: { summary: "stay up and do `vigil run` on a cron schedule (nightly, America/Chicago)", load: () => import("./schedule.ts") },
  publish: { summary: "write the public record (no addresses) as a checksummed snapshot and latest.json", load: () => import("./publish.ts") },
  backup: { summary: "an online, checked copy of the private database into --to DIR, keeping the last --keep", load: () => import("./backup.ts") },
  restore: { summary: "put a backup in place of the private database, keeping the current one beside it", load: () => import("./restore.ts") },
  serve: { summary: "serve the private database on loopback, or the public record with --public", load: () => import("./serve.ts") },
  status: { summary: "recent runs and freshness; non-zero exit when older than --max-age", load: () => import("./status.ts") },
  demo: { summary: "the whole flow offline against the bundled fixture portal", load: () => import("./demo.ts") },
};

export interface MainEffects {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  now: () => Date;
}

const defaultEffects: MainEffects = {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  now: () => new Date(),
};

export async function main(argv: string[], effects: MainEffects = defaultEffects): Promise<number> {
  const { stdout, stderr } = effects;
  const name = argv[0];
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    stdout.write(await topHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    stdout.write(`vigil ${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    stderr.write(`vigil: unknown command "${name}"; run \`vigil --help\` for the list\n`);
    return 2;
  }
  const debug = argv.includes("--debug");
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new VigilError(`stopped by ${signal}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const { command } = await entry.load();
    const { values, positionals } = parse(name, command, argv.slice(1), effects.env);
    if (values.help) {
      stdout.write(commandHelp(name, entry.summary, command));
      return 0;
    }
    if (positionals.length > 0 && !command.positionals) {
      throw new UsageError(`unexpected argument "${positionals[0]}"`);
    }
    const config = resolveConfig(values, effects.env);
    const log = createLogger({
      format: config.logFormat as LogFormat | undefined,
      stream: stderr,
      debug: config.debug,
      secrets: config.appToken ? [config.appToken] : [],
      now: effects.now,
    });
    const code = await command.run({
      values,
      positionals,
      env: effects.env,
      config,
      log,
      stdout,
      stderr,
      now: effects.now,
      signal: controller.signal,
    });
    return code ?? 0;
  } catch (error) {
    return report(error, name, debug, stderr, effects.env.SOCRATA_APP_TOKEN);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

function parse(name: string, command: Command, args: string[], env: NodeJS.ProcessEnv) {
  const specs = commandOptions(command);
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [key, spec] of Object.entries(specs)) {
    options[key] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) };
  }
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    const values = { ...parsed.values } as OptionValues;
    // Flags win over environment.
    for (const [key, spec] of Object.entries(specs)) {
      if (values[key] === undefined && spec.env && env[spec.env] !== undefined) values[key] = env[spec.env];
    }
    return { values, positionals: parsed.positionals };
  } catch (error) {
    // Node's own text goes on about positionals after "--": keep its first sentence.
    const message = (error instanceof Error ? error.message : String(error)).split(/\.( |$)/)[0];
    throw new UsageError(`${message}; run \`vigil ${name} --help\``);
  }
}

/** Prints a failure as one line on stderr and returns the exit code (exported for its tests). */
export function report(error: unknown, name: string, debug: boolean, stderr: NodeJS.WritableStream, token?: string): number {
  const { message, exitCode } = describeError(error);
  let text = `vigil ${name}: ${message}\n`;
  if (debug && error instanceof Error && error.stack) text += error.stack + "\n";
  stderr.write(redact(text, [token]));
  return exitCode;
}

async function topHelp(): Promise<string> {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `vigil ${VERSION}: a public record of COVID-19 deaths investigated by the Cook County Medical Examiner

Usage: vigil COMMAND [options]

Commands:
${lines.join("\n")}

Run \`vigil COMMAND --help\` for a command's options.

Environment (a flag wins over its variable):
${table(await environmentRows())}

Shell hooks see VIGIL_DB (and vigil run's --then VIGIL_SITE), never SOCRATA_APP_TOKEN, and:
${table(Object.entries(HOOK_ENVIRONMENT))}
`;
}

/** Every environment variable vigil reads, with what it stands for: the options' \`env\` of every command, then ENVIRONMENT. */
export async function environmentRows(): Promise<Array<[string, string]>> {
  const rows = new Map<string, string>();
  for (const name of Object.keys(COMMANDS)) {
    for (const [key, spec] of Object.entries(commandOptions(await loadCommand(name) as Command))) {
      if (spec.env && !rows.has(spec.env)) rows.set(spec.env, `--${key}${spec.arg ? ` ${spec.arg}` : ""}`);
    }
  }
  return [...rows, ...Object.entries(ENVIRONMENT)];
}

function table(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`).join("\n");
}

export function commandHelp(name: string, summary: string, command: Command): string {
  const specs: Array<[string, OptionSpec]> = Object.entries(commandOptions(command));
  const labels = specs.map(([key, spec]) => `${spec.short ? `-${spec.short}, ` : "    "}--${key}${spec.arg ? ` ${spec.arg}` : ""}`);
  const width = Math.max(...labels.map((l) => l.length));
  const rows = specs.map(([, spec], i) => `  ${labels[i].padEnd(width)}  ${spec.description}${spec.env ? ` [env ${spec.env}]` : ""}`);
  return `vigil ${name}: ${summary}

${command.help.trim()}

Options:
${rows.join("\n")}
`;
}

/** A command's definition by name (its options and help), without running it. */
export async function loadCommand(name: string): Promise<Command | undefined> {
  return COMMANDS[name] ? (await COMMANDS[name].load()).command : undefined;
}

/** Names and summaries of every command, for documentation checks. */
export const COMMAND_SUMMARIES: Record<string, string> = Object.fromEntries(
  Object.entries(COMMANDS).map(([n, c]) => [n, c.summary]),
);
