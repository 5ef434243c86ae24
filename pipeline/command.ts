import type { Logger } from "./log.ts";
import type { Config } from "../schemas/config.ts";

/** One option of a command, described for parsing and for `--help`. */
export interface OptionSpec {
  type: "string" | "boolean";
  description: string;
  short?: string;
  /** Shown in `--help` as the argument's name, e.g. PATH. */
  arg?: string;
  multiple?: boolean;
  /** Environment variable read when the flag is absent. */
  env?: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface CommandContext {
  values: OptionValues;
  positionals: string[];
  env: NodeJS.ProcessEnv;
  /** Shared settings, validated (db, portal, dataset, token, site, logging). */
  config: Config;
  log: Logger;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** The run's clock; stamp time once per run from it. */
  now: () => Date;
  /** Aborted on SIGINT/SIGTERM: long-running commands stop cleanly when it fires. */
  signal: AbortSignal;
}

export interface Command {
  /** Lines shown by `vigil COMMAND --help` above the options. */
  help: string;
  options: Record<string, OptionSpec>;
  /** Whether the command takes positional arguments (otherwise they are a usage error). */
  positionals?: boolean;
  run(ctx: CommandContext): Promise<number | void>;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  db: { type: "string", arg: "PATH", env: "VIGIL_DB", description: "SQLite database (default data/vigil.db)" },
  "log-format": { type: "string", arg: "FORMAT", description: "json or pretty (default: pretty on a terminal, json otherwise)" },
  debug: { type: "boolean", description: "show stack traces and debug lines" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

/** Options of commands that read the portal. */
export const SOURCE_OPTIONS: Record<string, OptionSpec> = {
  portal: { type: "string", arg: "URL", env: "VIGIL_PORTAL", description: "Socrata portal (default https://datacatalog.cookcountyil.gov)" },
  dataset: { type: "string", arg: "ID", env: "VIGIL_DATASET", description: "dataset id (default 3trz-enys, the COVID-19 view)" },
};

export const SITE_OPTIONS: Record<string, OptionSpec> = {
  site: { type: "string", arg: "DIR", env: "VIGIL_SITE", description: "root of the Hugo site to write widgets into" },
};
