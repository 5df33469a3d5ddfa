// The environment of `lookout submit`, a client of a Lookout server: where the
// server is and the API key to use. Nothing else: the client needs no
// database, Redis or model, so it never calls loadConfig().

import { z } from 'zod';

/** The API's default port (PORT in src/config/env-schema.ts). */
export const DEFAULT_LOOKOUT_URL = 'http://127.0.0.1:3000';

const submitEnvSchema = z.object({
  LOOKOUT_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL, e.g. http://127.0.0.1:3000' })
    .default(DEFAULT_LOOKOUT_URL),
  LOOKOUT_API_KEY: z
    .string({ error: 'is not set: create a key with `npx lookout keys create --name NAME --role submitter` and export it' })
    .trim()
    .min(1, { error: 'is empty: export the API key (`npx lookout keys create --name NAME --role submitter` prints one)' }),
});

export interface SubmitConfig {
  /** The server's base URL, without a trailing slash. */
  url: string;
  apiKey: string;
}

export class SubmitConfigError extends Error {
  override readonly name = 'SubmitConfigError';
}

/** Reads LOOKOUT_URL and LOOKOUT_API_KEY; throws SubmitConfigError naming each bad variable. */
export function loadSubmitConfig(env: Record<string, string | undefined>): SubmitConfig {
  const parsed = submitEnvSchema.safeParse({
    LOOKOUT_URL: env.LOOKOUT_URL === '' ? undefined : env.LOOKOUT_URL,
    LOOKOUT_API_KEY: env.LOOKOUT_API_KEY,
  });
  if (!parsed.success) {
    throw new SubmitConfigError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
  }
  return { url: parsed.data.LOOKOUT_URL.replace(/\/+$/, ''), apiKey: parsed.data.LOOKOUT_API_KEY };
}
