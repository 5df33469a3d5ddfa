// The /v1/backups answers, defined once (see batches.ts).
import { z } from 'zod';
import type { Json } from './json.js';

/** GET /v1/backups/:id, and one of GET /v1/backups's `backups`. */
export const backupViewSchema = z.object({
  id: z.uuid(),
  status: z.string(),
  trigger: z.string(),
  createdAt: z.date(),
  finishedAt: z.date().nullable(),
  verifiedAt: z.date().nullable(),
  file: z.string().nullable().describe('the file name in BACKUP_DIR (never a server path); null until the backup has one'),
  bytes: z.number().nullable(),
  sha256: z.string().nullable(),
  error: z.string().nullable(),
});
/** GET /v1/backups, newest first. */
export const backupListSchema = z.object({ backups: z.array(backupViewSchema) });
/** 202 to POST /v1/backups and POST /v1/backups/:id/verify. */
export const backupStartedSchema = z.object({ id: z.uuid(), status: z.string(), jobId: z.string().optional() });

export type BackupView = Json<z.infer<typeof backupViewSchema>>;
export type BackupList = Json<z.infer<typeof backupListSchema>>;
export type BackupStarted = z.infer<typeof backupStartedSchema>;
