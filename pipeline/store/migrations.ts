/**
 * Named schema migrations, applied in order and recorded in the `migrations` table. Each lives in
 * its own file in migrations/, with its SQL and data copied in: a migration that has shipped is
 * never edited (add a new one), and never changes with the live modules of the code.
 */
import { migration as initial } from "./migrations/001-initial.ts";
import { migration as backfillCheckpoints } from "./migrations/002-backfill-checkpoints.ts";
import { migration as covidDeathsSearchable } from "./migrations/003-covid-deaths-searchable.ts";
import { migration as memorialSentence } from "./migrations/004-memorial-sentence.ts";
import { migration as backfillRejected } from "./migrations/005-backfill-rejected.ts";
import { migration as population } from "./migrations/006-population.ts";
import { migration as events } from "./migrations/007-events.ts";
import { migration as syncState } from "./migrations/008-sync-state.ts";
import { migration as rejectCodes } from "./migrations/009-reject-codes.ts";
import { migration as publishedFigures } from "./migrations/010-published-figures.ts";
import { migration as lenses } from "./migrations/011-lenses.ts";
import { migration as figuresIndex } from "./migrations/012-figures-index.ts";
import type { Migration } from "./migrations/migration.ts";

export type { Migration } from "./migrations/migration.ts";

export const MIGRATIONS: readonly Migration[] = [
  initial,
  backfillCheckpoints,
  covidDeathsSearchable,
  memorialSentence,
  backfillRejected,
  population,
  events,
  syncState,
  rejectCodes,
  publishedFigures,
  lenses,
  figuresIndex,
];
