/**
 * Committing the widgets into the site's git repository, for sites that a push rebuilds. Only
 * vigil's own files are staged and committed; anything else the owner has changed (or staged) in
 * the work tree is left exactly as it was and reported.
 */
import { execFile } from "node:child_process";
import { realpathSync } from "node:fs";
import { relative, resolve, sep } from "node:path";
import { GitError } from "../errors.ts";
import { elapsed, type Logger } from "../log.ts";
import { isVigilPath } from "../../site-widgets/site-paths.ts";
import { childEnv } from "./children.ts";


export interface CommitOptions {
  /** Root of the Hugo site; it may be the repository's root or a folder inside it. */
  site: string;
  /** Files vigil wrote this run (absolute, or relative to the site); they count as vigil's even outside its folders. */
  written: string[];
  /** First line of the commit message; the changed files are listed below it. */
  subject: string;
  push: boolean;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

export interface CommitResult {
  /** Abbreviated hash of the new commit, or null when none of vigil's files had changed. */
  commit: string | null;
  /** Files in the commit, relative to the repository root. */
  files: string[];
  /** Changed files outside vigil's own, relative to the repository root; never staged or committed. */
  leftAlone: string[];
  pushed: boolean;
}

export async function commitSite(options: CommitOptions): Promise<CommitResult> {
  const started = performance.now();
  const git = gitRunner(options.env ?? process.env);
  const site = realpathSync(options.site);
  const root = (await git(site, ["rev-parse", "--show-toplevel"]).catch((error: GitError) => {
    throw new GitError(`--commit: ${options.site} is not inside a git repository`, {
      cause: error,
      hint: "run `git init` in the site, or leave out --commit",
    });
  })).trim();
  const siteInRepo = relative(realpathSync(root), site).split(sep).join("/");
  const written = new Set(
    options.written.map((file) => relative(realpathSync(root), resolve(site, file)).split(sep).join("/")),
  );
  const isOwned = (path: string) => {
    if (written.has(path)) return true;
    const inSite = siteInRepo === "" ? path : path.startsWith(siteInRepo + "/") ? path.slice(siteInRepo.length + 1) : null;
    if (inSite === null) return false;
    return isVigilPath(inSite);
  };

  const dirty = parseStatus(await git(root, ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"]));
  const files = dirty.filter(isOwned);
  const leftAlone = dirty.filter((path) => !isOwned(path));
  if (leftAlone.length > 0) {
    options.log.warn("commit", `left ${leftAlone.length} changed file(s) outside vigil's alone`, { files: leftAlone.slice(0, 20) });
  }
  if (files.length === 0) {
    options.log.info("commit", "nothing of vigil's changed; no commit", { ms: elapsed(started) });
    // A commit from an earlier run whose push failed still has to reach the remote.
    if (options.push && (await aheadOfUpstream(git, root)) > 0) {
      const head = await push(git, root, options.log, "an earlier commit");
      return { commit: head, files, leftAlone, pushed: true };
    }
    return { commit: null, files, leftAlone, pushed: false };
  }

  // `git add` so new files are known, then `commit --only` with the paths: whatever the owner had
  // staged stays staged and out of this commit.
  await git(root, ["add", "--all", "--", ...files]);
  const identity = (await gitConfig(git, root, "user.email")) ? [] : ["-c", "user.name=vigil", "-c", "user.email=vigil@localhost"];
  const message = `${options.subject}\n\n${files.map((file) => `- ${file}`).join("\n")}\n`;
  await git(root, [...identity, "commit", "--quiet", "--no-verify", "--only", "-m", message, "--", ...files]);
  const commit = (await git(root, ["rev-parse", "--short", "HEAD"])).trim();
  options.log.info("commit", `committed ${files.length} file(s) as ${commit}`, { commit, files: files.length, ms: elapsed(started) });
  if (!options.push) return { commit, files, leftAlone, pushed: false };
  return { commit: await push(git, root, options.log, commit), files, leftAlone, pushed: true };
}

/** Pushes the branch; when the author pushed meanwhile, rebases vigil's commit onto theirs once. */
async function push(git: Git, root: string, log: Logger, what: string): Promise<string> {
  const started = performance.now();
  const failed = (error: GitError) => {
    throw new GitError(`git push failed after committing ${what}: ${error.message}`, {
      cause: error,
      hint: "the commit is kept and the next run pushes it; check the remote, its credentials and the branch's upstream (git push -u)",
    });
  };
  let rebased = false;
  await git(root, ["push", "--quiet"]).catch(async (error: GitError) => {
    // vigil's commit touches only its own files, so the rebase cannot conflict with a post.
    if (!/rejected|fetch first|non-fast-forward/i.test(error.message)) failed(error);
    await git(root, ["pull", "--quiet", "--rebase", "--autostash"]).catch(async (pullError: GitError) => {
      // the pull's failure is the one to report; an abort with no rebase under way has nothing to say
      await git(root, ["rebase", "--abort"]).catch((abortError: GitError) => {
        if (!/no rebase in progress/i.test(abortError.message)) log.warn("push", `could not abort the rebase: ${abortError.message}`);
      });
      failed(pullError);
    });
    rebased = true;
    await git(root, ["push", "--quiet"]).catch(failed);
  });
  const head = (await git(root, ["rev-parse", "--short", "HEAD"])).trim();
  log.info("push", `pushed ${head}${rebased ? " (rebased onto the remote's new commits)" : ""}`, { commit: head, rebased, ms: elapsed(started) });
  return head;
}

/**
 * Commits on the branch that its upstream lacks; 0 when there is nothing to push to (no upstream,
 * or a detached HEAD). Any other failure of git is reported, not read as "nothing to push".
 */
async function aheadOfUpstream(git: Git, root: string): Promise<number> {
  const count = await git(root, ["rev-list", "--count", "@{upstream}..HEAD"]).catch((error: GitError) => {
    if (NO_UPSTREAM.test(error.message)) return "0";
    throw error;
  });
  const ahead = Number(count.trim());
  if (!Number.isInteger(ahead)) throw new GitError(`git rev-list: expected a count of commits, got "${count.trim()}"`);
  return ahead;
}

/** What git says when the branch has no upstream (or HEAD is no branch), in the C locale gitRunner sets. */
const NO_UPSTREAM = /no upstream configured|HEAD does not point to a branch|no such branch/i;

/** A setting's value, or "" when it is not set (git config exits 1 for that and only that). */
async function gitConfig(git: Git, root: string, key: string): Promise<string> {
  const value = await git(root, ["config", key]).catch((error: GitError) => {
    if ((error.cause as { code?: unknown } | undefined)?.code === 1) return "";
    throw error;
  });
  return value.trim();
}

/** Paths from `git status --porcelain=v1 -z --no-renames`: entries are "XY path\0". */
export function parseStatus(output: string): string[] {
  return output
    .split("\0")
    .filter((entry) => entry.length > 3)
    .map((entry) => entry.slice(3));
}

type Git = (cwd: string, args: string[]) => Promise<string>;

function gitRunner(env: NodeJS.ProcessEnv): Git {
  // Never wait on a prompt for credentials or a host key: a nightly job has nobody to answer it.
  const gitEnv = childEnv(env, { GIT_TERMINAL_PROMPT: "0", GIT_SSH_COMMAND: env.GIT_SSH_COMMAND ?? "ssh -o BatchMode=yes", LC_ALL: "C" });
  return (cwd, args) =>
    new Promise((resolvePromise, reject) => {
      execFile("git", args, { cwd, env: gitEnv, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (!error) return resolvePromise(stdout);
        const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
        // git ends with "hint:" advice; the lines that say what went wrong are the error/fatal ones.
        const lines = String(stderr).split("\n").map((line) => line.trim()).filter((line) => line && !line.startsWith("hint:"));
        const detail = missing
          ? "git is not installed"
          : lines.filter((line) => /^(error|fatal):|\[rejected\]/.test(line)).join("; ") || lines.at(-1) || error.message;
        reject(new GitError(`git ${args.find((a) => !a.startsWith("-") && !a.includes("=")) ?? ""}: ${detail}`, { cause: error }));
      });
    });
}

