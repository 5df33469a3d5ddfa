// The /v1/me and /v1/info answers, defined once (see batches.ts).
import { z } from 'zod';
import { ROLES } from './roles.js';

/** GET /v1/me. */
export const meSchema = z.object({ keyId: z.string(), name: z.string(), role: z.enum(ROLES) });

export const infoLimitsSchema = z.object({
  maxFiles: z.int().describe('images per request'),
  maxRequestBytes: z.int().describe('bytes per request'),
  maxFileBytes: z.int().describe('bytes per image'),
  maxPixels: z.int().describe('width x height per image'),
});

/** GET /v1/info. */
export const infoSchema = z.object({
  version: z.string(),
  defaultModel: z.string(),
  models: z.array(z.object({ name: z.string(), license: z.string(), present: z.boolean().describe('fetched onto the server'), defaultMinScore: z.number() })),
  limits: infoLimitsSchema,
  backups: z.object({
    enabled: z.boolean().describe('BACKUP_ENCRYPTION_KEY is set: backups can run'),
    reason: z.string().nullable().describe('why they are off, and how to turn them on; null when on'),
  }),
});

export type Me = z.infer<typeof meSchema>;
export type Info = z.infer<typeof infoSchema>;
/** What one upload request may hold (the console and `lookout submit` split uploads by it). */
export type InfoLimits = z.infer<typeof infoLimitsSchema>;
