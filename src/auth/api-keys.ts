// Creating and checking API keys: the library door the CLI and the API use.
import { appendAudit } from '../db/repositories/audit-log.js';
import { findApiKey, findApiKeyForUse, insertApiKey, revokeApiKey, touchApiKey, type Role } from '../db/repositories/api-keys.js';
import { withTransaction, type Pool, type Queryable } from '../db/pool.js';
import { generateApiKeyToken, parseApiKeyToken, secretMatches } from './api-key-tokens.js';

export { roleAtLeast } from '../wire/roles.js';

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
  /** For the audit log. */
  actor: string;
}

export async function createApiKey(
  pool: Pool,
  input: { name: string; role: Role; actor: string; expiresAt?: Date | null },
): Promise<{ id: string; token: string }> {
  const key = generateApiKeyToken();
  await withTransaction(pool, async (db) => {
    await insertApiKey(db, { id: key.id, name: input.name, role: input.role, secretHash: key.secretHash, expiresAt: input.expiresAt ?? null });
    await appendAudit(db, { actor: input.actor, action: 'key.create', target: `key:${key.id}`, details: { name: input.name, role: input.role } });
  });
  return { id: key.id, token: key.token };
}

/** The key's principal, or undefined for a malformed, unknown, wrong, revoked or expired key. */
export async function authenticate(pool: Pool, token: string, now = new Date()): Promise<Principal | undefined> {
  const parsed = parseApiKeyToken(token);
  if (!parsed) return undefined;
  const stored = await findApiKey(pool, parsed.id);
  if (!stored || !secretMatches(parsed.secret, stored.secretHash)) return undefined;
  if (stored.revokedAt || (stored.expiresAt && stored.expiresAt <= now)) return undefined;
  await touchApiKey(pool, stored.id);
  return { keyId: stored.id, name: stored.name, role: stored.role, actor: `key:${stored.id}` };
}

/** The key a request was authenticated with was revoked, expired or deleted before its work was written. */
export class KeyNoLongerValidError extends Error {
  constructor(
    readonly keyId: string,
    reason: string,
  ) {
    super(`API key ${keyId} ${reason} while the request was received; nothing was kept`);
    this.name = 'KeyNoLongerValidError';
  }
}

/**
 * Checks again, inside the transaction about to write on a key's behalf, that
 * the key is still valid: a long upload is authenticated when it starts and
 * may be revoked before its last byte. The key's row stays locked (FOR
 * SHARE) until the transaction ends, so a revocation waits for it.
 * @throws KeyNoLongerValidError when the key is revoked, expired or gone
 */
export async function assertKeyStillValid(db: Queryable, keyId: string, now = new Date()): Promise<void> {
  const stored = await findApiKeyForUse(db, keyId);
  if (!stored) throw new KeyNoLongerValidError(keyId, 'was deleted');
  if (stored.revokedAt) throw new KeyNoLongerValidError(keyId, 'was revoked');
  if (stored.expiresAt && stored.expiresAt <= now) throw new KeyNoLongerValidError(keyId, 'expired');
}

export async function revokeKey(pool: Pool, id: string, actor: string): Promise<boolean> {
  return withTransaction(pool, async (db) => {
    const revoked = await revokeApiKey(db, id);
    if (revoked) await appendAudit(db, { actor, action: 'key.revoke', target: `key:${id}` });
    return revoked;
  });
}
