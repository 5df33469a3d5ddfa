// The effective configuration with every secret masked, for `lookout config
// check` and start-up logs: passwords inside URLs, keys, webhook secrets.
import type { Config } from './config.js';

const MASK = '********';

/** The URL with its password, if any, masked; an unparsable URL is masked whole. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = MASK;
    return u.toString();
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
    backup: { ...config.backup, key: config.backup.key ? MASK : null, oldKeys: config.backup.oldKeys.map(() => MASK) },
    webhooks: { ...config.webhooks, batchSecret: config.webhooks.batchSecret ? MASK : null },
    alerts: {
      ...config.alerts,
      webhook: config.alerts.webhook ? { url: config.alerts.webhook.url, secret: config.alerts.webhook.secret ? MASK : null } : null,
      email: config.alerts.email ? { ...config.alerts.email, smtpUrl: maskUrl(config.alerts.email.smtpUrl) } : null,
    },
  };
}
