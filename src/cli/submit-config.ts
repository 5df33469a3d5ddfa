// The environment of `lookout submit`, a client of a Lookout server: where the
// server is (LOOKOUT_URL, else this host on the server's own PORT, as `lookout
// all` on the same machine listens) and the API key to use. Nothing else: the client needs no
// database, Redis or model, so it never calls loadConfig().

import { z } from 'zod';

/** The API's default port (PORT in src/config/env-schema.ts). */
export const DEFAULT_LOOKOUT_URL = 'http://127.0.0.1:3000';

const submitEnvSchema = z.object({
  LOOKOUT_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL, e.g. http://127.0.0.1:3000' })
    // fetch refuses URLs with credentials; the API key is the credential.
    .refine((u) => !new URL(u).username && !new URL(u).password, { error: 'must not carry a user or password (the API key goes in LOOKOUT_API_KEY)' })
    .optional(),
  // The server's PORT (src/config/env-schema.ts), here only to find a server on this host.
  PORT: z.coerce.number({ error: 'expected a port number from 1 to 65535' }).int().min(1).max(65_535).optional(),
  LOOKOUT_API_KEY: z
    .string({ error: 'is not set: create a key with `npx lookout keys create --name NAME --role submitter` and export it' })
    .trim()
    .min(1, { error: 'is empty: export the API key (`npx lookout keys create --name NAME --role submitter` prints one)' }),
});

export interface SubmitConfig {
  /** The server's base URL, without a trailing slash. */
  url: string;
  /** Where `url` came from, for error messages: LOOKOUT_URL, the server's PORT on this host, or the default. */
  urlSource: 'LOOKOUT_URL' | 'PORT' | 'default';
  apiKey: string;
}

export class SubmitConfigError extends Error {
  override readonly name = 'SubmitConfigError';
}

/**
 * Reads LOOKOUT_URL (else http://127.0.0.1:$PORT, else DEFAULT_LOOKOUT_URL) and LOOKOUT_API_KEY.
 * @throws SubmitConfigError naming each bad variable
 */
export function loadSubmitConfig(env: Record<string, string | undefined>): SubmitConfig {
  const parsed = submitEnvSchema.safeParse({
    LOOKOUT_URL: env.LOOKOUT_URL === '' ? undefined : env.LOOKOUT_URL,
    PORT: env.PORT === '' ? undefined : env.PORT,
    LOOKOUT_API_KEY: env.LOOKOUT_API_KEY,
  });
  if (!parsed.success) {
    // The message never repeats LOOKOUT_API_KEY, nor a password in LOOKOUT_URL.
    throw new SubmitConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  }
  const { LOOKOUT_URL, PORT, LOOKOUT_API_KEY } = parsed.data;
  if (LOOKOUT_URL) return { url: LOOKOUT_URL.replace(/\/+$/, ''), urlSource: 'LOOKOUT_URL', apiKey: LOOKOUT_API_KEY };
  if (PORT !== undefined) return { url: `http://127.0.0.1:${PORT}`, urlSource: 'PORT', apiKey: LOOKOUT_API_KEY };
  return { url: DEFAULT_LOOKOUT_URL, urlSource: 'default', apiKey: LOOKOUT_API_KEY };
}
