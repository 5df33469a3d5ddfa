// The effective configuration with every secret masked, for `lookout config
// check` and start-up logs: passwords inside URLs (user part or query
// string), keys, webhook secrets, the alert webhook URL (its own credential).
import type { Config } from './config.js';

const MASK = '********';

/**
 * Query parameters that carry a credential: node-postgres and ioredis take a
 * password from `?password=` (and `sslpassword=`) as readily as from the
 * user part, and other URLs put tokens and keys there.
 */
const SECRET_PARAMETER = /pass|secret|token|key|auth|credential|signature|sig$/i;

/**
 * The URL with its password and every credential-like query parameter
 * (password, sslpassword, token, key, ...) masked; the rest as it was. An
 * unparsable URL is masked whole.
 */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = MASK;
    for (const name of new Set(u.searchParams.keys())) {
      if (SECRET_PARAMETER.test(name)) u.searchParams.set(name, MASK);
    }
    return u.toString();
  } catch {
    return MASK;
  }
}

/**
 * A URL that is its own credential (a webhook whose path or query holds the
 * token): only its scheme and host are shown.
 */
export function maskCredentialUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/${MASK}`;
  } catch {
    return MASK;
  }
}

export function maskSecrets(config: Config): Record<string, unknown> {
  return {
    ...config,
    redisUrl: maskUrl(config.redisUrl),
    databaseUrl: maskUrl(config.databaseUrl),
    databaseOwnerUrl: config.databaseOwnerUrl ? maskUrl(config.databaseOwnerUrl) : null,
    s3: { ...config.s3, endpoint: config.s3.endpoint ? maskUrl(config.s3.endpoint) : null },
    backup: { ...config.backup, key: config.backup.key ? MASK : null, oldKeys: config.backup.oldKeys.map(() => MASK) },
    webhooks: { ...config.webhooks, batchSecret: config.webhooks.batchSecret ? MASK : null },
    tracing: { ...config.tracing, endpoint: config.tracing.endpoint ? maskUrl(config.tracing.endpoint) : null },
    alerts: {
      ...config.alerts,
      webhook: config.alerts.webhook ? { url: maskCredentialUrl(config.alerts.webhook.url), secret: config.alerts.webhook.secret ? MASK : null } : null,
      email: config.alerts.email ? { ...config.alerts.email, smtpUrl: maskUrl(config.alerts.email.smtpUrl) } : null,
    },
  };
}

/** Shorter values are not scrubbed from text: replacing every "ab" would garble it and hide nothing worth hiding. */
const SHORTEST_SCRUBBED = 4;

/** A URL's password as it is written in the URL and as it reads decoded. */
function urlPasswords(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const { password } = new URL(url);
    return password ? [password, decodeURIComponent(password)] : [];
  } catch {
    return [];
  }
}

/**
 * Every secret value of a configuration as it could appear verbatim in text
 * (an error message, a URL, a log or span attribute): URL passwords (as
 * written and decoded), the backup keys (base64 and base64url), the webhook
 * secrets, the alert webhook URL (its own credential), the AWS secret key
 * and session token of the environment. Values under 4 characters are left
 * out. For scrubbing what leaves the process (trace spans, src/tracing).
 */
export function secretValues(config: Config, env: Record<string, string | undefined> = {}): string[] {
  const values = [
    ...[config.databaseUrl, config.databaseOwnerUrl, config.redisUrl, config.s3.endpoint, config.alerts.email?.smtpUrl, config.tracing.endpoint].flatMap(
      urlPasswords,
    ),
    ...[config.backup.key, ...config.backup.oldKeys].flatMap((k) => (k ? [k.toString('base64'), k.toString('base64url')] : [])),
    config.webhooks.batchSecret,
    config.alerts.webhook?.url,
    config.alerts.webhook?.secret,
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN,
  ];
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v.length >= SHORTEST_SCRUBBED))];
}
