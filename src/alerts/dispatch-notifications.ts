// Turns alert events into deliveries: a log line always, and one job per
// configured channel on the notify queue (webhook, email), each with a job id
// that makes a repeated dispatch of the same event a no-op.
import { getAlert, type AlertRecord } from '../db/repositories/alerts.js';
import { appendAudit } from '../db/repositories/audit-log.js';
import { alertEmail } from '../jobs/alert-email/definition.js';
import type { OpsJobDeps } from '../jobs/ops-deps.js';
import { webhook, type WebhookPayload } from '../jobs/webhook/definition.js';
import type { Notification } from './evaluate-alerts.js';

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

export async function dispatchNotifications(deps: OpsJobDeps, notifications: readonly Notification[]): Promise<void> {
  const notify = deps.queues.get(webhook.queue)!;
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
      const data: WebhookPayload = { url: hook.url, event: `alert.${n.event}`, body: alertBody(alert, n.event, deps.now()), signWith: 'alerts' };
      await notify.add(webhook.name, data, { ...webhook.defaultOptions, jobId: `alert_webhook_${dedupe}` });
    }
    if (deps.config.alerts.email) {
      await notify.add(alertEmail.name, { alertId: alert.id, event: n.event }, { ...alertEmail.defaultOptions, jobId: `alert_email_${dedupe}` });
    }
  }
}
