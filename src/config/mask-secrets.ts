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
    alerts: {
      ...config.alerts,
      webhook: config.alerts.webhook ? { url: maskCredentialUrl(config.alerts.webhook.url), secret: config.alerts.webhook.secret ? MASK : null } : null,
      email: config.alerts.email ? { ...config.alerts.email, smtpUrl: maskUrl(config.alerts.email.smtpUrl) } : null,
    },
  };
}
