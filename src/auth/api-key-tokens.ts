// API key tokens: `lk_<id>_<secret>`. The id (8 hex) finds the row; the secret
// (32 random bytes, base64url) is stored only as its SHA-256. A fast hash is
// right here, unlike for passwords: 256 random bits cannot be guessed, so
// bcrypt/argon2 would add latency to every request and no safety.
// Comparison is constant-time.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface NewApiKeyToken {
  id: string;
  token: string;
  secretHash: string;
}

const TOKEN = /^lk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export function generateApiKeyToken(): NewApiKeyToken {
  const id = randomBytes(4).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `lk_${id}_${secret}`, secretHash: hashSecret(secret) };
}

export function parseApiKeyToken(token: string): { id: string; secret: string } | undefined {
  const match = TOKEN.exec(token.trim());
  if (!match) return undefined;
  return { id: match[1] as string, secret: match[2] as string };
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
