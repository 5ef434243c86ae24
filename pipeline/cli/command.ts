import { UsageError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { DEFAULT_LIMITS, type Limits } from "../store/limits.ts";
import { DATASETS, DEFAULTS, type Config } from "../../schemas/config.ts";
import type { ChartEvent } from "../../schemas/events.ts";
import { DEFAULT_LENS, LENS_NAMES, lensNameSchema, orderedLenses, type LensName } from "../../schemas/lenses.ts";
import { readEventsFile } from "../store/events.ts";

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
  /** Common options the command does not take, because it would ignore them (so neither --help nor the parser offers them). */
  withoutCommon?: Array<keyof typeof COMMON_OPTIONS>;
  run(ctx: CommandContext): Promise<number | void>;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  db: { type: "string", arg: "PATH", env: "VIGIL_DB", description: "SQLite database (default data/vigil.db)" },
  "log-format": { type: "string", arg: "FORMAT", description: "json or pretty (default: pretty on a terminal, json otherwise)" },
  debug: { type: "boolean", description: "show stack traces and debug lines" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

/** Every option a command takes: its own, then the common ones it does not leave out. */
export function commandOptions(command: Command): Record<string, OptionSpec> {
  const common = Object.entries(COMMON_OPTIONS).filter(([key]) => !command.withoutCommon?.includes(key));
  return { ...command.options, ...Object.fromEntries(common) };
}

/** Environment variables vigil reads that stand for no flag (those that do are the options' `env`). */
export const ENVIRONMENT: Record<string, string> = {
  SOCRATA_APP_TOKEN: "the portal's app token, sent as X-App-Token; never logged, never passed to a hook",
  VIGIL_BUILD: "off: run the TypeScript sources through tsx instead of the build in dist/",
  VIGIL_PYTHON: "the Python 3.8+ that datasette/install.sh makes .venv with (default python3)",
  VIGIL_PROFILE: "a file: vigil backfill times each phase of the load and writes the times there, as JSON (npm run bench -- --profile)",
};

/** Environment variables vigil sets for the shell commands it runs (--then, --backup-then), beside VIGIL_DB and VIGIL_SITE. */
export const HOOK_ENVIRONMENT: Record<string, string> = {
  VIGIL_RUN_ID: "the run's id (vigil run --then)",
  VIGIL_BACKUP_FILE: "the new backup (vigil backup --then, vigil run --backup-then)",
  VIGIL_BACKUP_DIR: "the folder of the backups (vigil backup --then, vigil run --backup-then)",
};

/** Options of commands that read the portal. */
export const SOURCE_OPTIONS: Record<string, OptionSpec> = {
  portal: { type: "string", arg: "URL", env: "VIGIL_PORTAL", description: `Socrata portal (default ${DEFAULTS.portal})` },
  dataset: { type: "string", arg: "ID", env: "VIGIL_DATASET", description: `dataset id (default ${DEFAULTS.dataset}, the COVID-19 view; ${DATASETS.archive} is the whole archive), or its name: covid, archive` },
};

export const SITE_OPTIONS: Record<string, OptionSpec> = {
  site: { type: "string", arg: "DIR", env: "VIGIL_SITE", description: "root of the Hugo site to write widgets into" },
};

/** The refusal thresholds of a run (`vigil ingest`, `backfill`, `run`, `schedule`). */
export const LIMIT_OPTIONS: Record<string, OptionSpec> = {
  "max-reject-share": {
    type: "string",
    arg: "SHARE",
    description: `fail when more than this share of rows is rejected (default ${DEFAULT_LIMITS.maxRejectShare})`,
  },
  "max-removed-share": {
    type: "string",
    arg: "SHARE",
    description: `fail when more than this share of cases would be removed (default ${DEFAULT_LIMITS.maxRemovedShare})`,
  },
};

export function parseLimits(values: Record<string, unknown>): Partial<Limits> {
  const limits: Partial<Limits> = {};
  for (const [flag, key] of [["max-reject-share", "maxRejectShare"], ["max-removed-share", "maxRemovedShare"]] as const) {
    const value = values[flag];
    if (value === undefined) continue;
    const n = Number(value);
    if (typeof value !== "string" || !(n >= 0 && n <= 1)) throw new UsageError(`--${flag} must be a number from 0 to 1, got "${String(value)}"`);
    limits[key] = n;
  }
  return limits;
}

/** A `--port` value: a whole number from 0 (a free port) to 65535; 8001 when absent. */
export function parsePort(value: unknown, fallback = 8001): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || port > 65535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, got "${String(value)}"`);
  }
  return port;
}

/** Where the public record's snapshots are published (`vigil publish`, `vigil serve --public`). */
export const PUBLIC_OPTIONS: Record<string, OptionSpec> = {
  out: { type: "string", arg: "DIR", env: "VIGIL_PUBLIC", description: "folder of the public record's snapshots and latest.json (default data/public)" },
};

/** The public record's folder from --out / VIGIL_PUBLIC. */
export function publicDir(ctx: Pick<CommandContext, "values">): string {
  const out = ctx.values.out;
  if (out !== undefined && (typeof out !== "string" || out.trim() === "")) throw new UsageError("--out needs a folder, e.g. --out data/public");
  return typeof out === "string" ? out : "data/public";
}

/** A duration flag: "5m", "30s", "1h" or "250ms", in milliseconds. */
export function parseDuration(value: unknown, flag: string): number {
  const match = typeof value === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim()) : null;
  const ms = match ? Number(match[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"] : NaN;
  if (!(ms > 0)) throw new UsageError(`${flag} must be a duration such as 5m, 30s or 1h, got "${String(value)}"`);
  return ms;
}

/** The site's own dated events, marked on the time charts with the built-in ones (`vigil widgets`, `run`, `schedule`). */
export const EVENTS_OPTIONS: Record<string, OptionSpec> = {
  events: {
    type: "string",
    arg: "FILE",
    env: "VIGIL_EVENTS",
    description: "CSV of the site's own dated events (date,label,source_url), marked on the time charts with the built-in ones",
  },
};

/** Where the memorial links each day's records (`vigil widgets`, `run`, `schedule`). */
export const RECORDS_OPTIONS: Record<string, OptionSpec> = {
  "records-url": {
    type: "string",
    arg: "URL",
    env: "VIGIL_RECORDS_URL",
    description: "the public record's address (vigil serve --public, e.g. https://data.example.org): the memorial links each day to its records there",
  },
};

/** Which deaths the widgets are about (`vigil widgets`, `run`, `schedule`). */
export const LENS_OPTIONS: Record<string, OptionSpec> = {
  lens: {
    type: "string",
    arg: "NAME",
    multiple: true,
    env: "VIGIL_LENSES",
    description: `which deaths: ${LENS_NAMES.join(", ")} (default ${DEFAULT_LENS}; repeat for more, or a comma list in VIGIL_LENSES); ${DEFAULT_LENS} writes where it always has, another lens into static/vigil/NAME/ and data/vigil/NAME/`,
  },
};

/** The --lens values (each may be a comma list, as VIGIL_LENSES is), checked; COVID-19 alone without any. */
export function lensesFlag(values: OptionValues): LensName[] {
  const given = values.lens;
  const names = (Array.isArray(given) ? given : typeof given === "string" ? [given] : []).flatMap((value) => value.split(",")).map((name) => name.trim().toLowerCase()).filter(Boolean);
  if (names.length === 0) return [DEFAULT_LENS];
  for (const name of names) {
    if (!lensNameSchema.safeParse(name).success) throw new UsageError(`--lens must be one of ${LENS_NAMES.join(", ")}, got "${name}"`, { hint: "docs/lenses.md says what each lens holds" });
  }
  return orderedLenses(names as LensName[]).map((lens) => lens.name);
}

/** --records-url, checked: an http(s) address, without a trailing slash; undefined without it. */
export function recordsUrlFlag(values: OptionValues): string | undefined {
  const url = values["records-url"];
  if (url === undefined || url === "") return undefined;
  if (typeof url !== "string" || !/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(url.trim())) {
    throw new UsageError(`--records-url must be an http(s) address such as https://data.example.org, got "${String(url)}"`);
  }
  return url.trim().replace(/\/+$/, "");
}

/** The --events file and its events, checked (a bad file is a usage error naming its line); undefined without it. */
export function eventsFlag(values: OptionValues): { file: string; events: ChartEvent[] } | undefined {
  const file = values.events;
  if (file === undefined) return undefined;
  if (typeof file !== "string" || file.trim() === "") throw new UsageError("--events needs a CSV file, e.g. --events site-events.csv");
  return { file, events: readEventsFile(file, "site") };
}
