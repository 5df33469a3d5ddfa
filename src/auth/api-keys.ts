// Creating and checking API keys: the library door the CLI and the API use.
import { appendAudit } from '../db/repositories/audit-log.js';
import { findApiKey, insertApiKey, revokeApiKey, touchApiKey, type Role } from '../db/repositories/api-keys.js';
import { withTransaction, type Pool } from '../db/pool.js';
import { generateApiKeyToken, parseApiKeyToken, secretMatches } from './api-key-tokens.js';

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

const RANK: Record<Role, number> = { viewer: 0, submitter: 1, operator: 2, admin: 3 };

export const roleAtLeast = (role: Role, needed: Role): boolean => RANK[role] >= RANK[needed];

export async function revokeKey(pool: Pool, id: string, actor: string): Promise<boolean> {
  return withTransaction(pool, async (db) => {
    const revoked = await revokeApiKey(db, id);
    if (revoked) await appendAudit(db, { actor, action: 'key.revoke', target: `key:${id}` });
    return revoked;
  });
}
