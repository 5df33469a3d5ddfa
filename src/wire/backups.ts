// The /v1/backups answers, defined once (see batches.ts).
import { z } from 'zod';
import type { Json } from './json.js';
import type { BackupStatus } from './status-lists.js';

/** GET /v1/backups/:id, and one of GET /v1/backups's `backups`. */
export const backupViewSchema = z.object({
  id: z.uuid(),
  kind: z.enum(['logical', 'pitr']).describe("logical: Lookout's encrypted pg_dump file; pitr: a pgBackRest backup of the cluster (lookout pitr)"),
  status: z.string(),
  trigger: z.string(),
  createdAt: z.date(),
  finishedAt: z.date().nullable(),
  verifiedAt: z.date().nullable(),
  file: z.string().nullable().describe('the file name in BACKUP_DIR (never a server path); null until the backup has one'),
  bytes: z.number().nullable(),
  sha256: z.string().nullable(),
  error: z.string().nullable(),
  label: z.string().nullable().describe("pitr: pgBackRest's backup label"),
  type: z.enum(['full', 'diff', 'incr']).nullable().describe("pitr: pgBackRest's backup type"),
  rpoSeconds: z.number().nullable().describe('pitr, after a restore drill: target time minus the last archived WAL time'),
  rtoSeconds: z.number().nullable().describe('pitr, after a restore drill: restore and start duration'),
});
/** GET /v1/backups, newest first. */
export const backupListSchema = z.object({ backups: z.array(backupViewSchema) });
/** 202 to POST /v1/backups and POST /v1/backups/:id/verify. */
export const backupStartedSchema = z.object({ id: z.uuid(), status: z.string(), jobId: z.string().optional() });

// The schemas say `status: string` (as /openapi.json always has: an enum there
// would change the published document); the types narrow it to the shared list,
// which the database's CHECK constraint holds every row to.
type WithStatus<T> = Omit<T, 'status'> & { status: BackupStatus };
export type BackupView = WithStatus<Json<z.infer<typeof backupViewSchema>>>;
export type BackupList = { backups: BackupView[] };
export type BackupStarted = WithStatus<z.infer<typeof backupStartedSchema>>;
