/**
 * A backfill in a process of its own, for tests that kill it: options as JSON in argv[2], the
 * small chunk and commit sizes and the worker count included, which the CLI does not offer.
 */
import { backfill, type BackfillOptions } from "../pipeline/backfill/backfill.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { FAST_HTTP } from "./helpers.ts";

const options = JSON.parse(process.argv[2]) as Pick<BackfillOptions, "config" | "commitRows" | "chunkBytes" | "file" | "workers">;
await backfill({ ...options, log: memoryLogger(), now: () => new Date("2026-11-27T12:00:00Z"), http: FAST_HTTP });
