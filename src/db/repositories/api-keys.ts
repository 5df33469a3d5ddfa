// Stored API keys: a public id for lookup and the hash of the secret, never the secret.
import type { Queryable } from '../pool.js';

import type { Role } from '../../wire/roles.js';

export { ROLES, type Role } from '../../wire/roles.js';

export interface StoredApiKey {
  id: string;
  name: string;
  role: Role;
  secretHash: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export async function insertApiKey(db: Queryable, key: { id: string; name: string; role: Role; secretHash: string; expiresAt?: Date | null }): Promise<void> {
  await db.query('INSERT INTO api_keys (id, name, role, secret_hash, expires_at) VALUES ($1, $2, $3, $4, $5)', [
    key.id,
    key.name,
    key.role,
    key.secretHash,
    key.expiresAt ?? null,
  ]);
}

export async function findApiKey(db: Queryable, id: string): Promise<StoredApiKey | undefined> {
  const { rows } = await db.query<StoredApiKey>(
    `SELECT id, name, role, secret_hash AS "secretHash", expires_at AS "expiresAt", revoked_at AS "revokedAt"
       FROM api_keys WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/**
 * The key, its row locked FOR SHARE until the caller's transaction ends: a
 * revocation (an UPDATE of the row) waits for that transaction, so what the
 * transaction wrote on the key's word was written while the key was valid.
 */
export async function findApiKeyForUse(db: Queryable, id: string): Promise<StoredApiKey | undefined> {
  const { rows } = await db.query<StoredApiKey>(
    `SELECT id, name, role, secret_hash AS "secretHash", expires_at AS "expiresAt", revoked_at AS "revokedAt"
       FROM api_keys WHERE id = $1 FOR SHARE`,
    [id],
  );
  return rows[0];
}

export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  // At most once a minute per key: a hot key must not become a hot row.
  await db.query(
    `UPDATE api_keys SET last_used_at = now()
      WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
    [id],
  );
}

export interface ApiKeyView {
  id: string;
  name: string;
  role: Role;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export async function listApiKeys(db: Queryable): Promise<ApiKeyView[]> {
  const { rows } = await db.query<ApiKeyView>(
    `SELECT id, name, role, created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"
       FROM api_keys ORDER BY created_at`,
  );
  return rows;
}

export async function revokeApiKey(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
  return rowCount === 1;
}
