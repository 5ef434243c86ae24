/** `vigil publish`: the public record as a checksummed, reproducible snapshot and its manifest. */
import { join } from "node:path";
import { PUBLIC_OPTIONS, publicDir, SITE_OPTIONS, type Command } from "./command.ts";
import { publish, SITE_DATA_DIR } from "../publish/publish.ts";

export const command: Command = {
  help: `
Writes the public record, a projection of the private database (--db) without street addresses,
coordinates or raw source rows, as DIR/vigil-<first 12 hex of its SHA-256>.db, and DIR/latest.json:
{file, sha256, bytes, run_id, published_at, data_last_changed}. DIR is --out (VIGIL_PUBLIC, default
data/public). With --site, the snapshot and manifest also go to ${join(SITE_DATA_DIR, "")}/ in the
Hugo site, so the blog hosts the download.

The same record always gives the same bytes, so the hash changes only when the record does: when
nothing published changed, nothing is written. Each snapshot is written under a temporary name,
checked (PRAGMA integrity_check) and renamed into place, so a reader never sees half a file; the
two snapshots before the latest are kept for readers still downloading them, older ones removed.

Examples:
  vigil publish
  vigil publish --out /srv/vigil/public --site /srv/blog
  sha256sum data/public/vigil-*.db; cat data/public/latest.json`,
  options: {
    ...PUBLIC_OPTIONS,
    site: { ...SITE_OPTIONS.site, description: `root of a Hugo site to copy the snapshot and latest.json into (${SITE_DATA_DIR}/), for the blog to host` },
  },
  async run(ctx) {
    const result = await publish({ db: ctx.config.db, out: publicDir(ctx), site: ctx.config.site, now: ctx.now, log: ctx.log });
    const { manifest } = result;
    ctx.stdout.write(
      result.changed
        ? `published ${manifest.file} (${manifest.bytes} bytes, sha256 ${manifest.sha256}, run ${manifest.run_id ?? "-"})\n`
        : `unchanged: ${manifest.file} already holds the record (sha256 ${manifest.sha256})\n`,
    );
  },
};
