/**
 * The nightly job (`vigil run`, and each run of `vigil schedule`). Ingest; then, only after a
 * successful ingest, the dated events into their table and the widgets; then (with --publish,
 * --backup) the public record and a backup of the database; then (with --commit) a commit of the
 * changed widget files in the site's repository; then the --then hook. Commit and hook happen
 * only when what the site shows changed. Every step reports into one summary line and the exit code.
 */
import { existsSync, rmSync } from "node:fs";
import { writeAtomically } from "../atomic.ts";
import type { Config } from "../../schemas/config.ts";
import { openDatabase } from "../store/db.ts";
import { builtInEvents, mergeEvents, readEventsFile, replaceEvents } from "../store/events.ts";
import { acquireWriteLock } from "../store/lock.ts";
import type { Limits } from "../store/limits.ts";
import { describeError, redact, VigilError } from "../errors.ts";
import { runShell } from "./children.ts";
import { commitSite, type CommitResult } from "./site-git.ts";
import { ingest, type IngestOptions, type IngestResult, type RunResult } from "../ingest/ingest.ts";
import { publish, type PublishResult } from "../publish/publish.ts";
import { backup, runBackupHook, type BackupResult } from "./backup.ts";
import { elapsed, type Logger } from "../log.ts";
import type { LensName } from "../../schemas/lenses.ts";

// A type-only import: the module itself is loaded lazily, since the chart libraries take a second.
import type { WidgetsResult } from "../../site-widgets/emit.ts";

export interface NightlyOptions {
  config: Config;
  log: Logger;
  now: () => Date;
  signal?: AbortSignal;
  limits?: Partial<Limits>;
  http?: IngestOptions["http"];
  /** Read every row of the source (see `vigil ingest --full`). */
  full?: boolean;
  /** Shell command run with `sh -c` after the widgets changed (without a site: after the data changed). */
  then?: string;
  commit?: boolean;
  push?: boolean;
  /** Publish the public record into this folder after the widgets (and into the site with --site). */
  publish?: string;
  /** Back up the database into this folder after a successful ingest, keeping the newest `keep`; then run `then`. */
  backup?: { to: string; keep: number; then?: string };
  /** The site's events file (`--events`), read at each run; the events table then holds its events and the built-in ones. */
  events?: string;
  /** The public record's address, where the memorial links each day's records (`--records-url`). */
  recordsUrl?: string;
  /** Which deaths the widgets are about (`--lens`; schemas/lenses.ts): COVID-19 alone by default. */
  lenses?: readonly LensName[];
  /** Where the hook's own output goes. */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export type Step<T> =
  | { status: "ok"; value: T }
  /** `error` as it was thrown, its class and hint kept; `message` the line vigil prints for it. */
  | { status: "failed"; error: unknown; message: string }
  | { status: "skipped"; reason: string }
  | { status: "off" };

export interface NightlyResult {
  ok: boolean;
  runId: number | null;
  ingest: Step<IngestResult>;
  events: Step<EventsResult>;
  widgets: Step<WidgetsResult>;
  publish: Step<PublishResult>;
  backup: Step<BackupResult>;
  commit: Step<CommitResult>;
  hook: Step<{ code: number }>;
  /** Set when SIGINT/SIGTERM arrived during the run. */
  stopped: boolean;
  summary: string;
}

/** Why a step is skipped, or undefined to let it run; asked when the step's turn comes. */
type Guard = () => string | undefined;

const OFF = { status: "off" } as const;

/**
 * The one way a step of the night runs: skipped for the first guard that gives a reason; else
 * run, and its value recorded, or its failure recorded whole (class and hint) with the line
 * vigil prints for it, the same words as the command on its own would end with.
 */
async function runStep<T>(guards: Guard[], run: () => Promise<T> | T): Promise<Step<T>> {
  for (const guard of guards) {
    const reason = guard();
    if (reason !== undefined) return { status: "skipped", reason };
  }
  try {
    return { status: "ok", value: await run() };
  } catch (error) {
    return { status: "failed", error, message: describeError(error).message };
  }
}

export async function nightly(options: NightlyOptions): Promise<NightlyResult> {
  const { config, log, signal } = options;
  const started = performance.now();
  const startedAt = options.now().toISOString();
  const ingestStep = await runStep([], () =>
    ingest({ config, log, now: options.now, signal, limits: options.limits, http: options.http, full: options.full }),
  );
  const runId = ingestStep.status === "ok" ? ingestStep.value.runId : findRunId(config.db, startedAt, log);
  const stopped = () => signal?.aborted === true;
  const running: Guard = () => (stopped() ? "stopped" : undefined);
  const ingested: Guard = () => (ingestStep.status === "ok" ? undefined : "ingest failed");

  const data = await dataSteps(options, ingested, running);
  const changed = siteChanged(ingestStep, data.widgets) || (data.publish.status === "ok" && data.publish.value.changed && config.site !== undefined);
  const failed = [ingestStep, ...Object.values(data)].some((step) => step.status === "failed");
  // A commit, push or hook that failed last time is retried now, even if nothing changed since.
  const due = changed || readPending(config.db);
  const site = await siteSteps(options, { failed, due, running, runId, ingested: ingestStep, widgets: data.widgets });

  const result = { runId, ingest: ingestStep, ...data, ...site, stopped: stopped() };
  const ok = !failed && site.commit.status !== "failed" && site.hook.status !== "failed" && (site.hook.status !== "ok" || site.hook.value.code === 0);
  // Error messages may quote what the portal sent back, and a portal may echo the token.
  const summary = redact(summarize(result), [config.appToken]);
  log[ok ? "info" : "error"]("run", summary, { run: runId ?? undefined, ok, changed, ms: elapsed(started) });
  return { ...result, ok, summary };
}

/** The steps after a successful ingest: events (before the widgets, which draw them), widgets, publish, backup. */
async function dataSteps(options: NightlyOptions, ingested: Guard, running: Guard) {
  const { config, log } = options;
  const events = await runStep([ingested, running], () => storeEvents(config.db, options.events, log));
  const site = config.site;
  const widgets = await runStep<WidgetsResult>([ingested, () => (site ? undefined : "no --site"), running], async () => {
    const { writeWidgets } = await import("../../site-widgets/emit.ts");
    return writeWidgets({ db: config.db, site: site as string, now: options.now, log, recordsUrl: options.recordsUrl, lenses: options.lenses });
  });
  const out = options.publish;
  // the snapshot's hash says whether anything published changed: an unchanged record writes nothing
  const published: Step<PublishResult> =
    out === undefined ? OFF : await runStep([ingested, running], () => publish({ db: config.db, out, site, now: options.now, log }));
  const wanted = options.backup;
  // before the commit and hook, so a hook that copies the backups off the machine has tonight's
  const backedUp: Step<BackupResult> =
    wanted === undefined ? OFF : await runStep([ingested, running], () => backupThen(wanted, options));
  return { events, widgets, publish: published, backup: backedUp };
}

interface SiteStepsInput {
  failed: boolean;
  /** The site changed, or an update failed last time. */
  due: boolean;
  running: Guard;
  runId: number | null;
  ingested: Step<IngestResult>;
  widgets: Step<WidgetsResult>;
}

/** The commit of the widget files and the --then hook, when what the site shows changed; remembers what is owed. */
async function siteSteps(options: NightlyOptions, input: SiteStepsInput) {
  const { config, log } = options;
  const { failed, due, running, runId, ingested, widgets } = input;
  const unchanged: Guard = () => (due ? undefined : "nothing changed");
  const commit: Step<CommitResult> = !options.commit
    ? OFF
    : await runStep([() => (failed ? "an earlier step failed" : undefined), unchanged, running], () => {
        const written = widgets.status === "ok" ? widgets.value.written : [];
        const subject = commitSubject(runId, ingested.status === "ok" ? ingested.value : null, written.length);
        return commitSite({ site: config.site as string, written, subject, push: options.push === true, log, env: options.env });
      });
  const then = options.then;
  const hook: Step<{ code: number }> =
    then === undefined
      ? OFF
      : await runStep([() => (failed || commit.status === "failed" ? "an earlier step failed" : undefined), unchanged, running], () =>
          runHook(then, { ...options, runId }),
        );
  if (due && (options.commit || then !== undefined)) {
    const done = (step: Step<unknown>) => step.status === "ok" || step.status === "off";
    const hookOk = hook.status === "off" || (hook.status === "ok" && hook.value.code === 0);
    writePending(config.db, !(done(commit) && hookOk));
  }
  return { commit, hook };
}

/** Beside the database: present while a site update (commit, push, hook) is still owed. */
function pendingPath(db: string): string | null {
  return db === ":memory:" ? null : `${db}.site-pending`;
}

function readPending(db: string): boolean {
  const path = pendingPath(db);
  return path !== null && existsSync(path);
}

function writePending(db: string, owed: boolean): void {
  const path = pendingPath(db);
  if (path === null) return;
  if (owed) writeAtomically(path, "a site update (commit, push or --then hook) failed; the next run retries it\n");
  else rmSync(path, { force: true });
}

/** Whether the run changed what the site shows: the data, or any widget file beyond freshness. */
export function siteChanged(ingestStep: Step<RunResult>, widgets: Step<WidgetsResult>): boolean {
  const dataChanged = ingestStep.status === "ok" && ingestStep.value.changed;
  if (widgets.status !== "ok") return widgets.status === "skipped" && widgets.reason === "no --site" && dataChanged;
  return dataChanged || widgets.value.changed;
}

/**
 * The run a failed ingest recorded, if it got that far, so the summary can name it. A database
 * without the runs table yet (the ingest failed before it made one) has none; any other failure
 * to read it is logged, and the summary says "run -".
 */
function findRunId(db: string, since: string, log: Logger): number | null {
  if (db === ":memory:" || !existsSync(db)) return null;
  try {
    const handle = openDatabase(db, { readonly: true });
    try {
      const id = handle.prepare("SELECT max(id) FROM runs WHERE pid = ? AND started_at >= ?").pluck().get(process.pid, since);
      return typeof id === "number" ? id : null;
    } finally {
      handle.close();
    }
  } catch (error) {
    if (error instanceof Error && error.message === "no such table: runs") return null;
    log.warn("run", `cannot read which run failed from ${db}: ${describeError(error).message}`);
    return null;
  }
}

export interface EventsResult {
  builtIn: number;
  /** Events of the site's file, less those that are built-in ones too. */
  site: number;
  /** Whether the events table changed. */
  changed: boolean;
}

/**
 * The events step: the table made to hold the built-in events and those of the site's file
 * (read again now, so an edit since the last run counts; none without one), in one transaction
 * under the write lock. The table then reflects the file: an event deleted from it is gone.
 */
function storeEvents(dbPath: string, file: string | undefined, log: Logger): EventsResult {
  const started = performance.now();
  const events = mergeEvents(builtInEvents(), file === undefined ? [] : readEventsFile(file, "site"));
  const db = openDatabase(dbPath);
  try {
    const lock = acquireWriteLock(dbPath, db);
    try {
      const changed = db.transaction(() => replaceEvents(db, events)).immediate();
      const site = events.filter((e) => e.origin === "site").length;
      const result = { builtIn: events.length - site, site, changed };
      log.info("events", `${result.builtIn} built-in and ${site} site events${changed ? ", table updated" : ", unchanged"}`, { ...result, file, ms: elapsed(started) });
      return result;
    } finally {
      lock.release();
    }
  } finally {
    db.close();
  }
}

/** A backup, then the backup's own hook (--backup-then), every night one is taken: a hook that fails fails the backup step. */
async function backupThen(wanted: NonNullable<NightlyOptions["backup"]>, options: NightlyOptions): Promise<BackupResult> {
  const { config, log } = options;
  const taken = await backup({ db: config.db, to: wanted.to, keep: wanted.keep, now: options.now, log });
  if (wanted.then === undefined) return taken;
  await runBackupHook(taken, config.db, { ...options, command: wanted.then, flag: "--backup-then" });
  return taken;
}

/** The --then hook: its exit code (the summary says when it is not 0); a failure when it could not start. */
async function runHook(command: string, options: NightlyOptions & { runId: number | null }): Promise<{ code: number }> {
  // The hook gets what it needs to know about the run, and never the app token.
  const extra = { VIGIL_RUN_ID: String(options.runId ?? ""), VIGIL_DB: options.config.db, VIGIL_SITE: options.config.site ?? "" };
  const result = await runShell({ ...options, command, extra, stage: "hook" });
  if ("error" in result) throw new VigilError(result.error);
  return result;
}

function commitSubject(runId: number | null, ingested: RunResult | null, files: number): string {
  const changes = ingested ? countsText(ingested) : "";
  const what = changes === "no change" ? "data unchanged" : `cases ${changes}`;
  return `vigil run ${runId ?? "?"}: ${what}; ${files} widget file(s) updated`;
}

function countsText(result: RunResult): string {
  const c = result.counts;
  const parts = (
    [
      [c.inserted, "inserted"],
      [c.updated, "updated"],
      [c.removed, "removed"],
      [c.restored, "restored"],
      [c.rejected, "rejected"],
    ] as const
  )
    .filter(([n]) => n > 0)
    .map(([n, word]) => `${n} ${word}`);
  return parts.length ? parts.join(", ") : "no change";
}

/** What the ingest changed; "unchanged upstream" when the view's metadata spared it reading rows. */
function ingestText(result: IngestResult): string {
  return result.sync === "unchanged" ? "unchanged upstream" : countsText(result);
}

export function summarize(result: Omit<NightlyResult, "ok" | "summary">): string {
  const { ingest: i, events: e, widgets: w, publish: p, backup: b, commit: c, hook: h } = result;
  const parts = [
    stepText("ingest", i, (value) => `ingest ok (${ingestText(value)})`),
    // said only when the table changed: most nights it does not
    e.status === "skipped" ? undefined : stepText("events", e, (value) => (value.changed ? `events updated (${value.builtIn} built-in, ${value.site} of the site)` : undefined)),
    stepText("widgets", w, ({ changed, written }) =>
      changed ? `widgets changed (${written.length} files)` : written.length ? "widgets unchanged (freshness updated)" : "widgets unchanged",
    ),
    stepText("publish", p, (value) => (value.changed ? `published ${value.manifest.file}` : "public record unchanged")),
    stepText("backup", b, (value) => `backed up to ${value.file}`),
    stepText("commit", c, (value) => {
      const left = value.leftAlone.length ? `, ${value.leftAlone.length} other changed file(s) left alone` : "";
      return (value.commit ? `committed ${value.commit} (${value.files.length} files)${value.pushed ? " and pushed" : ""}` : "nothing to commit") + left;
    }),
    stepText("hook", h, (value) => (value.code === 0 ? "hook ok" : `hook failed (exit ${value.code})`)),
    result.stopped ? "stopped by signal" : undefined,
  ];
  return `run ${result.runId ?? "-"}: ${parts.filter((part) => part !== undefined).join(", ")}`;
}

/** What a step did, for the summary: `ok` says it for a success; a failure, a skip, or nothing when off. */
function stepText<T>(name: string, step: Step<T>, ok: (value: T) => string | undefined): string | undefined {
  if (step.status === "ok") return ok(step.value);
  if (step.status === "failed") return `${name} failed: ${oneLine(step.message)}`;
  if (step.status === "skipped") return `${name} skipped (${step.reason})`;
  return undefined;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
