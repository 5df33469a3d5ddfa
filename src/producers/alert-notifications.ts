// Turns alert events into deliveries: a log line always, and one job per
// configured channel on the notify queue (webhook, email), each with a job id
// (the job types' rule over the dedupe key below) that makes a repeated
// dispatch of the same event a no-op. Called by the health-probe job.
import type { Notification } from '../alerts/evaluate-alerts.js';
import { getAlert, type AlertRecord } from '../db/repositories/alerts.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import type { Config } from '../config/config.js';
import { alertEmail } from '../jobs/alert-email/definition.js';
import { enqueue } from '../jobs/enqueue.js';
import type { OpsJobDeps } from '../jobs/ops-deps.js';
import { webhook } from '../jobs/webhook/definition.js';

/** What dispatching reads of the configuration: which channels are on (ALERT_WEBHOOK_URL, ALERT_EMAIL_TO with SMTP_URL). */
export type AlertNotificationDeps = Pick<OpsJobDeps, 'pool' | 'queues' | 'logger' | 'now'> & {
  config: { alerts: Pick<Config['alerts'], 'webhook' | 'email'> };
};

export function alertBody(alert: AlertRecord, event: Notification['event'], now: Date): Record<string, unknown> {
  return {
    event,
    sentAt: now.toISOString(),
    alert: {
      id: alert.id,
      rule: alert.rule,
      key: alert.key,
      severity: alert.severity,
      status: alert.status,
      message: alert.message,
      details: alert.details,
      firedAt: alert.firedAt,
      resolvedAt: alert.resolvedAt,
    },
  };
}

export async function dispatchNotifications(deps: AlertNotificationDeps, notifications: readonly Notification[]): Promise<void> {
  for (const n of notifications) {
    const alert = await getAlert(deps.pool, n.alertId);
    if (!alert) continue;
    const log = alert.severity === 'critical' && n.event !== 'resolved' ? deps.logger.error.bind(deps.logger) : deps.logger.warn.bind(deps.logger);
    log({ alert: alert.id, rule: alert.rule, key: alert.key, severity: alert.severity, event: n.event }, `alert ${n.event}: ${alert.message}`);
    await appendAudit(deps.pool, {
      actor: 'system',
      action: `alert.${n.event}`,
      target: `alert:${alert.id}`,
      outcome: n.event === 'resolved' ? 'ok' : 'error',
      details: { rule: alert.rule, key: alert.key, severity: alert.severity, message: alert.message },
    });
    const dedupe = `${alert.id}_${n.event}_${alert.notifications}`;
    const hook = deps.config.alerts.webhook;
    if (hook) {
      const data = { url: hook.url, event: `alert.${n.event}`, body: alertBody(alert, n.event, deps.now()), signWith: 'alerts' } as const;
      await enqueue(deps.queues, webhook, data, { occasion: dedupe });
    }
    if (deps.config.alerts.email) {
      await enqueue(deps.queues, alertEmail, { alertId: alert.id, event: n.event }, { occasion: dedupe });
    }
  }
}
