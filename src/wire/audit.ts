// The /v1/audit answer, defined once (see batches.ts). An entry's fields are
// the audit log's columns as the repository returns them: the API promises
// only an object per entry.
import { z } from 'zod';
import type { Json } from './json.js';

/** GET /v1/audit, newest first. */
export const auditEntriesSchema = z.object({ entries: z.array(z.record(z.string(), z.unknown())) });

export type AuditEntries = Json<z.infer<typeof auditEntriesSchema>>;
