// The /v1/health, /v1/workers and /v1/alerts answers (and the body that
// silences an alert), defined once (see batches.ts).
import { z } from 'zod';
import type { Json } from './json.js';
import { ALERT_SEVERITIES, ALERT_STATUSES, HEALTH_STATUSES, WORKER_STATES } from './status-lists.js';

export const healthStatusSchema = z.enum(HEALTH_STATUSES);
export const healthComponentSchema = z.object({
  name: z.string(),
  status: healthStatusSchema,
  value: z.union([z.number(), z.string()]).nullable(),
  threshold: z.union([z.number(), z.string()]).nullable(),
  unit: z.string().optional(),
  message: z.string(),
});
/** GET /v1/health (200 and 503 alike). */
export const healthCheckSchema = z.object({ at: z.date(), status: healthStatusSchema, components: z.array(healthComponentSchema) });
/** One of GET /v1/workers's `workers`. */
export const workerSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.int(),
  queues: z.array(z.string()),
  device: z.string().nullable(),
  concurrency: z.int(),
  version: z.string(),
  jobsDone: z.int(),
  jobsFailed: z.int(),
  currentJobs: z.array(z.object({ queue: z.string(), id: z.string(), name: z.string(), since: z.string() })),
  startedAt: z.date(),
  lastSeen: z.date(),
  stoppedAt: z.date().nullable(),
  state: z.enum(WORKER_STATES),
});
export const alertStatusSchema = z.enum(ALERT_STATUSES);
/** GET /v1/workers. */
export const workerListSchema = z.object({ workers: z.array(workerSchema) });
/** One of GET /v1/alerts's `alerts`. */
export const alertSchema = z.object({
  id: z.uuid(),
  rule: z.string(),
  key: z.string(),
  severity: z.enum(ALERT_SEVERITIES),
  status: alertStatusSchema,
  message: z.string(),
  details: z.record(z.string(), z.unknown()),
  pendingSince: z.date(),
  firedAt: z.date().nullable(),
  resolvedAt: z.date().nullable(),
  lastNotifiedAt: z.date().nullable(),
  notifications: z.int(),
  silencedUntil: z.date().nullable(),
  silencedBy: z.string().nullable(),
});
/** GET /v1/alerts, newest first. */
export const alertListSchema = z.object({ alerts: z.array(alertSchema) });
/** POST /v1/alerts/:id/silence's body. */
export const silenceBodySchema = z
  .object({
    minutes: z
      .number()
      .int()
      .min(1)
      .max(60 * 24 * 30)
      .default(60),
  })
  .strict();
/** POST /v1/alerts/:id/silence. */
export const silencedAlertSchema = z.object({ id: z.uuid(), silencedUntil: z.date() });
export type SilenceBody = z.input<typeof silenceBodySchema>;
export type SilencedAlert = Json<z.infer<typeof silencedAlertSchema>>;
export type HealthCheck = Json<z.infer<typeof healthCheckSchema>>;
export type WorkerView = Json<z.infer<typeof workerSchema>>;
export type WorkerList = Json<z.infer<typeof workerListSchema>>;
export type Alert = Json<z.infer<typeof alertSchema>>;
export type AlertList = Json<z.infer<typeof alertListSchema>>;
export type { AlertStatus } from './status-lists.js';
