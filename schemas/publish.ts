/**
 * `latest.json`: the manifest of the public record's latest snapshot, written beside it by
 * `vigil publish`. Readers, caches and replicas find the snapshot and check it by this file.
 */
import { z } from "zod";

export const SNAPSHOT_NAME = /^vigil-[0-9a-f]{12}\.db$/;

export const manifestSchema = z.object({
  file: z.string().regex(SNAPSHOT_NAME).describe("The snapshot's file name, beside the manifest: vigil-<first 12 hex of its sha256>.db"),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).describe("SHA-256 of the snapshot's bytes, lower-case hex"),
  bytes: z.number().int().positive().describe("The snapshot's size in bytes"),
  run_id: z.number().int().positive().nullable().describe("The last run whose changes the snapshot holds (runs.id)"),
  published_at: z.iso.datetime().describe("When this snapshot was first published, UTC, ISO 8601"),
  data_last_changed: z.iso.datetime().nullable().describe("When a run last changed the record, UTC, ISO 8601"),
});

export type Manifest = z.infer<typeof manifestSchema>;
