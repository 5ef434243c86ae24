/**
 * What a migration is. Every file beside this one is a migration as it shipped: it carries its own
 * SQL and data, and a fill calls only functions frozen in the same file, so that editing a live
 * module never changes what a new database gets (test/migrations.test.ts holds every file to it).
 */
import type Database from "better-sqlite3";

export interface Migration {
  /** Recorded in the `migrations` table once applied: never renamed. */
  name: string;
  sql: string;
  /** Fills what SQL cannot compute (a value vigil derives in TypeScript), after `sql`, in the same transaction. */
  fill?: (db: Database.Database) => void;
}
