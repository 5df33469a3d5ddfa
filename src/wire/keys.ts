// The /v1/keys answers (and the body that creates a key), defined once (see batches.ts).
import { z } from 'zod';
import { ROLES } from './roles.js';
import type { Json } from './json.js';

export const roleSchema = z.enum(ROLES);

/** POST /v1/keys's body. */
export const newKeySchema = z
  .object({
    name: z.string().min(1).max(200),
    role: roleSchema,
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict();

/** One of GET /v1/keys's `keys`: never the secret. */
export const keyViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: roleSchema,
  createdAt: z.date(),
  expiresAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  lastUsedAt: z.date().nullable(),
});
/** GET /v1/keys. */
export const keyListSchema = z.object({ keys: z.array(keyViewSchema) });
/** 201 to POST /v1/keys: the secret, shown this once. */
export const createdKeySchema = z.object({ id: z.string(), key: z.string() });
/** DELETE /v1/keys/:id. */
export const revokedKeySchema = z.object({ id: z.string(), revoked: z.literal(true) });

export type NewKey = z.input<typeof newKeySchema>;
export type KeyView = Json<z.infer<typeof keyViewSchema>>;
export type KeyList = Json<z.infer<typeof keyListSchema>>;
export type CreatedKey = z.infer<typeof createdKeySchema>;
export type RevokedKey = z.infer<typeof revokedKeySchema>;
