/**
 * Every file in deploy/ is checked by the tool that owns its format (systemd-analyze, supervisord's
 * own parser and supervisord itself, ansible-playbook, a YAML parser), and against what the code
 * expects: the commands and flags exist, paths and ports agree, environment names are ones vigil reads.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import cron from "node-cron";
import { parseAllDocuments } from "yaml";
import { COMMAND_SUMMARIES, loadCommand } from "../pipeline/cli/main.ts";
import { checkInvocation, INSTALL_DIR } from "./deploy-helpers.ts";
import { COMMON_OPTIONS } from "../pipeline/cli/command.ts";
import { DEFAULT_CRON, DEFAULT_TIMEZONE } from "../pipeline/ops/schedule.ts";
import { startPortal } from "../fixtures/portal.ts";
import { generateCovidView } from "../fixtures/generate.ts";
import { ROOT, runMain, tempDir } from "./helpers.ts";

const DEPLOY = join(ROOT, "deploy");
const ENV_FILE = "/etc/vigil/vigil.env";
const has = (tool: string) => !spawnSync(tool, ["--version"], { stdio: "ignore" }).error;


/** Every environment variable vigil reads. */
async function knownEnv(): Promise<Set<string>> {
  const names = new Set(["SOCRATA_APP_TOKEN"]);
  for (const name of Object.keys(COMMAND_SUMMARIES)) {
    const command = await loadCommand(name);
    for (const spec of Object.values({ ...COMMON_OPTIONS, ...command?.options })) if (spec.env) names.add(spec.env);
  }
  return names;
}

/** Key → values of a systemd unit file (repeated keys kept in order). */
function unit(path: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = line.match(/^([A-Za-z]+)=(.*)$/);
    if (match) keys.set(match[1], [...(keys.get(match[1]) ?? []), match[2]]);
  }
  return keys;
}

test("systemd units pass systemd-analyze verify and run what the CLI offers", { skip: !has("systemd-analyze") && "systemd-analyze is not installed" }, async () => {
  const dir = join(DEPLOY, "systemd");
  const files = readdirSync(dir).sort();
  assert.deepEqual(files, ["vigil-run.service", "vigil-run.timer", "vigil-serve.service"]);
  const verify = spawnSync("systemd-analyze", ["verify", "--man=no", ...files.map((f) => join(dir, f))], { encoding: "utf8" });
  // verify only warns about unknown keys and typos: any output at all is a failure here.
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr.trim() + verify.stdout.trim(), "", "systemd-analyze has nothing to say");

  const run = unit(join(dir, "vigil-run.service"));
  assert.deepEqual(run.get("Type"), ["oneshot"]);
  assert.equal((await checkInvocation(run.get("ExecStart")![0].split(" "), "vigil-run.service")).name, "run");
  const serve = unit(join(dir, "vigil-serve.service"));
  const served = await checkInvocation(serve.get("ExecStart")![0].split(" "), "vigil-serve.service");
  assert.equal(served.name, "serve");
  assert.equal(served.values.public, true, "published datasette runs canned queries only");
  for (const service of [run, serve]) {
    assert.deepEqual(service.get("User"), ["vigil"]);
    assert.deepEqual(service.get("WorkingDirectory"), [INSTALL_DIR]);
    assert.deepEqual(service.get("EnvironmentFile"), [ENV_FILE]);
    assert.ok(service.get("ReadWritePaths")![0].split(" ").includes("/var/lib/vigil"), "the database folder is writable");
  }

  const timer = unit(join(dir, "vigil-run.timer"));
  assert.deepEqual(timer.get("Persistent"), ["true"], "a run missed while the machine was off happens at boot");
  assert.deepEqual(timer.get("Unit"), ["vigil-run.service"]);
  const calendar = timer.get("OnCalendar")![0];
  const [minute, hour] = DEFAULT_CRON.split(" ");
  assert.equal(calendar, `*-*-* ${hour.padStart(2, "0")}:${minute.padStart(2, "0")}:00 ${DEFAULT_TIMEZONE}`, "the same time as vigil schedule");
  const parsed = spawnSync("systemd-analyze", ["calendar", calendar], { encoding: "utf8" });
  assert.equal(parsed.status, 0, parsed.stderr);
});

/** deploy/supervisord/vigil.conf made runnable here: this user, and temporary paths for logs and settings. */
function localSupervisorConf(dir: string, envFile: string): string {
  const conf = readFileSync(join(DEPLOY, "supervisord", "vigil.conf"), "utf8");
  assert.match(conf, /^user=vigil$/m);
  const local = conf
    .replace(/^user=vigil$/gm, `user=${userInfo().username}`)
    .replaceAll("/var/log/vigil/", `${dir}/log/`)
    .replaceAll(ENV_FILE, envFile)
    .replaceAll(`${INSTALL_DIR}/`, `${ROOT}/`)
    .replace(/^directory=\/opt\/vigil$/gm, `directory=${ROOT}`)
    .replace("--port 8001", "--port 0");
  mkdirSync(join(dir, "log"), { recursive: true });
  writeFileSync(join(dir, "vigil.conf"), local);
  const main = join(dir, "supervisord.conf");
  writeFileSync(
    main,
    [
      "[unix_http_server]",
      `file=${dir}/supervisor.sock`,
      "[supervisord]",
      `logfile=${dir}/supervisord.log`,
      `pidfile=${dir}/supervisord.pid`,
      `childlogdir=${dir}`,
      "nodaemon=true",
      "[rpcinterface:supervisor]",
      "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
      "[supervisorctl]",
      `serverurl=unix://${dir}/supervisor.sock`,
      "[include]",
      `files=${dir}/vigil.conf`,
      "",
    ].join("\n"),
  );
  return main;
}

/** The settings file as the Ansible playbook writes it, rendered by Ansible's own template module. */
function renderEnvFile(dir: string, vars: Record<string, unknown>): string {
  const dest = join(dir, "vigil.env");
  const result = spawnSync(
    "ansible",
    ["localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.template", "-a", `src=${join(DEPLOY, "ansible", "templates", "vigil.env.j2")} dest=${dest}`, "-e", JSON.stringify(vars)],
    { encoding: "utf8", env: { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "false" } },
  );
  assert.equal(result.status, 0, result.stdout + result.stderr);
  return dest;
}

const ANSIBLE_DEFAULTS = { vigil_site: "", vigil_then: "", vigil_commit: false, vigil_push: false, vigil_app_token: "", vigil_backup_dir: "", vigil_backup_keep: 7, vigil_backup_then: "", vigil_events: "", vigil_dataset: "covid", vigil_lenses: "covid" };

test("the Ansible settings file holds only variables vigil reads, quoted for sh and systemd alike", { skip: !has("ansible") && "ansible is not installed" }, async (t) => {
  const dir = tempDir(t);
  const env = renderEnvFile(dir, {
    ...ANSIBLE_DEFAULTS,
    vigil_data_dir: "/var/lib/vigil",
    vigil_site: "/srv/site",
    vigil_then: "hugo --minify -s '/srv/site'",
    vigil_cron: DEFAULT_CRON,
    vigil_app_token: "t0k en",
    vigil_commit: true,
    vigil_push: true,
    vigil_backup_dir: "/var/backups/vigil",
    vigil_backup_keep: 14,
    vigil_backup_then: 'rclone copy "$VIGIL_BACKUP_DIR" remote:vigil',
    vigil_events: "/srv/site/data/events.csv",
    vigil_dataset: "archive",
    vigil_lenses: "covid,opioid,heat",
  });
  const text = readFileSync(env, "utf8");
  const names = [...text.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]);
  const known = await knownEnv();
  assert.deepEqual(names.filter((name) => !known.has(name)), [], "every variable is one vigil reads");
  const shell = spawnSync("sh", ["-c", `set -a && . "${env}" && node -e 'const e = process.env; console.log(JSON.stringify([e.VIGIL_DB, e.VIGIL_SITE, e.VIGIL_THEN, e.VIGIL_CRON, e.SOCRATA_APP_TOKEN, e.VIGIL_COMMIT, e.VIGIL_PUSH, e.VIGIL_BACKUP, e.VIGIL_BACKUP_KEEP, e.VIGIL_BACKUP_THEN, e.VIGIL_EVENTS, e.VIGIL_DATASET, e.VIGIL_LENSES]))'`], { encoding: "utf8" });
  assert.deepEqual(JSON.parse(shell.stdout), ["/var/lib/vigil/vigil.db", "/srv/site", "hugo --minify -s '/srv/site'", DEFAULT_CRON, "t0k en", "1", "1", "/var/backups/vigil", "14", 'rclone copy "$VIGIL_BACKUP_DIR" remote:vigil', "/srv/site/data/events.csv", "archive", "covid,opioid,heat"]);
});

test("supervisord parses the programs, then runs them: a catch-up run, datasette, a clean stop", { skip: (!has("supervisord") || !has("ansible")) && "supervisor or ansible is not installed" }, async (t) => {
  const dir = tempDir(t);
  // supervisord's own parser, with the interpreter it is installed for.
  const python = readFileSync(execFileSync("sh", ["-c", "command -v supervisord"], { encoding: "utf8" }).trim(), "utf8").split("\n")[0].replace(/^#!\s*/, "");
  const portal = await startPortal({ datasets: { "3trz-enys": generateCovidView({ seed: 51, count: 200 }) } });
  t.after(() => portal.close());
  const env = renderEnvFile(dir, { ...ANSIBLE_DEFAULTS, vigil_data_dir: dir, vigil_cron: DEFAULT_CRON });
  writeFileSync(env, readFileSync(env, "utf8") + `VIGIL_PORTAL=${portal.url}\n`);
  const main = localSupervisorConf(dir, env);
  const parse = spawnSync(python, ["-c", PARSE_PROGRAMS, main], { encoding: "utf8" });
  assert.equal(parse.status, 0, parse.stderr + parse.stdout);
  const programs = JSON.parse(parse.stdout) as Record<string, { command: string; stopsignal: number; stopwaitsecs: number; autorestart: boolean }>;
  assert.deepEqual(Object.keys(programs).sort(), ["vigil-schedule", "vigil-serve"]);
  const original = readFileSync(join(DEPLOY, "supervisord", "vigil.conf"), "utf8");
  for (const [name, expected] of [["vigil-schedule", "schedule"], ["vigil-serve", "serve"]]) {
    const line = original.match(new RegExp(`\\[program:${name}\\][^[]*?^command=.*exec (.*?)'$`, "m"))?.[1];
    assert.ok(line, `${name} execs vigil`);
    assert.equal((await checkInvocation(line.split(" "), name)).name, expected);
    assert.equal(programs[name].stopsignal, 15, "SIGTERM");
    assert.equal(programs[name].autorestart, true);
  }
  assert.ok(programs["vigil-schedule"].stopwaitsecs >= 120, "time for a run to finish before SIGKILL");

  // Now for real: supervisord starts both programs from the rendered settings file.
  const supervisord = spawn("supervisord", ["-c", main], { stdio: "ignore" });
  const ctl = (...args: string[]) => spawnSync("supervisorctl", ["-c", main, ...args], { encoding: "utf8" });
  t.after(() => {
    if (supervisord.exitCode === null) supervisord.kill("SIGKILL");
  });
  const schedLog = join(dir, "log", "schedule.log");
  const serveLog = join(dir, "log", "serve.log");
  const waitFor = async (file: string, pattern: RegExp) => {
    const start = Date.now();
    while (!(existsSync(file) && pattern.test(readFileSync(file, "utf8")))) {
      if (Date.now() - start > 60_000) assert.fail(`no ${pattern} in ${file}:\n${existsSync(file) ? readFileSync(file, "utf8") : "(none)"}\n${ctl("status").stdout}`);
      await sleep(100);
    }
    return readFileSync(file, "utf8").match(pattern)!;
  };
  await waitFor(schedLog, /"msg":"run 1: ingest ok \(200 inserted\), widgets skipped \(no --site\), published vigil-[0-9a-f]{12}\.db"/);
  const url = (await waitFor(serveLog, /serving .* at (http:\/\/127\.0\.0\.1:\d+\/vigil)/))[1];
  const page = await fetch(`${url}.json`);
  assert.equal(page.status, 200);
  assert.match(page.url, /\/vigil-[0-9a-f]{7}\.json$/, "the public record, served from its snapshot");

  const stop = ctl("stop", "all");
  assert.equal(stop.status, 0, stop.stdout + stop.stderr);
  assert.match(ctl("status").stdout, /vigil-schedule\s+STOPPED[\s\S]*vigil-serve\s+STOPPED/);
  assert.match(readFileSync(schedLog, "utf8"), /"msg":"stopped"/);
  supervisord.kill("SIGTERM");
  await new Promise((resolve) => supervisord.once("close", resolve));
  await assert.rejects(fetch(url), "datasette stopped with its program");
});

const PARSE_PROGRAMS = `
import json, sys
from supervisor.options import ServerOptions
options = ServerOptions()
options.realize(args=["-c", sys.argv[1]])
print(json.dumps({p.name: {"command": p.command, "stopsignal": int(p.stopsignal), "stopwaitsecs": p.stopwaitsecs,
  "autorestart": p.autorestart is not False} for g in options.process_group_configs for p in g.process_configs}))
`;

test("the Ansible playbook passes ansible-playbook --syntax-check and installs what the repository holds", { skip: !has("ansible-playbook") && "ansible-playbook is not installed" }, async () => {
  const dir = join(DEPLOY, "ansible");
  const check = spawnSync("ansible-playbook", ["--syntax-check", "-i", join(dir, "inventory.example.ini"), join(dir, "pi.yml")], { encoding: "utf8" });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const text = readFileSync(join(dir, "pi.yml"), "utf8");
  const [play] = parseAllDocuments(text)[0].toJS() as Array<{ tasks: Array<Record<string, any>>; vars: Record<string, unknown> }>;
  const copies = play.tasks.filter((task) => task["ansible.builtin.copy"]);
  const sources = copies.flatMap((task) => {
    const src = String(task["ansible.builtin.copy"].src);
    return task.loop ? (task.loop as string[]).map((item) => src.replace("{{ item }}", item)) : [src];
  });
  assert.deepEqual(sources.sort(), ["../supervisord/vigil.conf", "../systemd/vigil-run.service", "../systemd/vigil-run.timer", "../systemd/vigil-serve.service"]);
  for (const src of sources) assert.ok(existsSync(join(dir, src)), src);
  const template = play.tasks.find((task) => task["ansible.builtin.template"])!["ansible.builtin.template"];
  assert.equal(template.dest, ENV_FILE, "where the units and programs read their settings");
  assert.ok(existsSync(join(dir, template.src)));
  const clone = play.tasks.find((task) => task["ansible.builtin.git"])!["ansible.builtin.git"];
  assert.equal(play.vars[clone.dest.replace(/[{} ]/g, "")], INSTALL_DIR);
  assert.equal(play.vars.vigil_node_major, 20);
});

test("the playbook's restore task, run by Ansible as written, puts a backup in place on a machine without a database", { skip: !has("ansible") && "ansible is not installed" }, async (t) => {
  const dir = tempDir(t);
  const text = readFileSync(join(DEPLOY, "ansible", "pi.yml"), "utf8");
  const [play] = parseAllDocuments(text)[0].toJS() as Array<{ tasks: Array<Record<string, any>> }>;
  const task = play.tasks.find((x) => /^Restore the database/.test(String(x.name)))!;
  assert.equal(task.args.creates, "{{ vigil_data_dir }}/vigil.db", "never over a database already there");
  const portal = await startPortal({ datasets: { "3trz-enys": generateCovidView({ seed: 3, count: 40 }) } });
  t.after(() => portal.close());
  const old = join(dir, "old", "vigil.db");
  assert.equal((await runMain(["ingest", "--db", old, "--portal", portal.url])).code, 0);
  const backup = await runMain(["backup", "--db", old, "--to", join(dir, "backups")]);
  assert.equal(backup.code, 0, backup.stderr);
  const vars = { vigil_data_dir: join(dir, "new pi"), vigil_restore_from: backup.stdout.trim() };
  mkdirSync(vars.vigil_data_dir);
  const run = spawnSync("ansible", ["localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.command", "-a", `${task["ansible.builtin.command"]} chdir=${ROOT}`, "-e", JSON.stringify(vars)], {
    encoding: "utf8",
    env: { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "false" },
  });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const count = (path: string) => execFileSync("sqlite3", [path, "SELECT count(*) || ' ' || max(id) FROM runs; SELECT count(*) FROM cases;"], { encoding: "utf8" });
  assert.equal(count(join(vars.vigil_data_dir, "vigil.db")), count(old));
});

test("k3s manifests: one writer, one node, and the commands, paths, ports and environment the code expects", async () => {
  const dir = join(DEPLOY, "k3s");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  const objects: Array<Record<string, any>> = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), "utf8"))) {
      assert.deepEqual(doc.errors, [], `${file} is valid YAML`);
      objects.push(doc.toJS());
    }
  }
  const kustomization = objects.find((o) => o.kind === "Kustomization")!;
  assert.deepEqual([...kustomization.resources].sort(), files.filter((f) => f !== "kustomization.yaml").sort(), "kustomization lists every manifest");
  const find = (kind: string) => objects.find((o) => o.kind === kind)!;
  const pvc = find("PersistentVolumeClaim");
  const cronJob = find("CronJob");
  const deployment = find("Deployment");
  const service = find("Service");
  for (const o of [pvc, cronJob, deployment, service]) assert.equal(o.metadata.namespace, find("Namespace").metadata.name);

  // SQLite: a ReadWriteOnce volume on one node, one writer at a time; the public datasette's
  // replicas need neither (test/k3s.test.ts).
  assert.deepEqual(pvc.spec.accessModes, ["ReadWriteOnce"]);
  assert.equal(cronJob.spec.concurrencyPolicy, "Forbid");
  const jobPod = cronJob.spec.jobTemplate.spec.template.spec;
  assert.ok(Object.keys(jobPod.nodeSelector ?? {}).length > 0, "pinned to a node");
  assert.equal(cronJob.spec.schedule, DEFAULT_CRON);
  assert.equal(cronJob.spec.timeZone, DEFAULT_TIMEZONE);
  assert.ok(cron.validate(cronJob.spec.schedule));

  const known = await knownEnv();
  for (const [pod, expected] of [[jobPod, "run"]] as const) {
    const [container] = pod.containers;
    const invocation = await checkInvocation(container.command, expected);
    assert.equal(invocation.name, expected);
    assert.equal(container.workingDir, INSTALL_DIR);
    const env = Object.fromEntries(container.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    assert.deepEqual(Object.keys(env).filter((name) => !known.has(name)), [], `${expected}: only variables vigil reads`);
    const mounts = Object.fromEntries(container.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
    const volumes = Object.fromEntries(pod.volumes.map((v: { name: string }) => [v.name, v]));
    const dataDir = String(env.VIGIL_DB).replace(/\/[^/]+$/, "");
    assert.equal(volumes[mounts[dataDir]]?.persistentVolumeClaim?.claimName, pvc.metadata.name, `${expected}: VIGIL_DB lies on the shared volume`);
    assert.equal(volumes[mounts[INSTALL_DIR]]?.hostPath?.path, INSTALL_DIR, `${expected}: the checkout is mounted where the command runs it`);
    if (env.VIGIL_SITE) assert.ok(mounts[env.VIGIL_SITE], "the site is mounted");
  }
  assert.ok(jobPod.terminationGracePeriodSeconds >= 120, "time for a run to finish or roll back on SIGTERM");
});
