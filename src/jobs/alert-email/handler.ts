// Sends an alert email over SMTP (nodemailer). The SMTP URL may hold a
// password: it stays in the configuration, never in the job or a log.
import { UnrecoverableError, type Job } from 'bullmq';
import nodemailer from 'nodemailer';
import { getAlert } from '../../db/repositories/alerts.js';
import { parsePayload, type JobHandler } from '../job-type.js';
import type { Config } from '../../config/config.js';
import type { Pool } from '../../db/pool.js';
import { alertEmail } from './definition.js';

/** What sending reads: the email channel's settings (ALERT_EMAIL_TO, SMTP_URL, …) and the alert's row. */
export interface AlertEmailDeps {
  config: { alerts: Pick<Config['alerts'], 'email'> };
  pool: Pool;
}

export function createAlertEmailHandler(deps: AlertEmailDeps): JobHandler {
  return async function handleAlertEmail(job: Job) {
    const { alertId, event } = parsePayload(alertEmail, job);
    const email = deps.config.alerts.email;
    if (!email) throw new UnrecoverableError('email alerts are not configured (ALERT_EMAIL_TO, SMTP_URL)');
    const alert = await getAlert(deps.pool, alertId);
    if (!alert) throw new UnrecoverableError(`alert ${alertId} does not exist`);
    const transport = nodemailer.createTransport(email.smtpUrl);
    try {
      const state = event === 'resolved' ? 'RESOLVED' : event === 'repeat' ? 'STILL FIRING' : 'FIRING';
      const info = await transport.sendMail({
        from: email.from,
        to: email.to,
        subject: `[Lookout] ${state}: ${alert.rule} ${alert.key} (${alert.severity})`,
        text: [
          `${state}: ${alert.message}`,
          '',
          `rule: ${alert.rule}`,
          `component: ${alert.key}`,
          `severity: ${alert.severity}`,
          `since: ${(alert.firedAt ?? alert.pendingSince).toISOString()}`,
          ...(alert.resolvedAt ? [`resolved: ${alert.resolvedAt.toISOString()}`] : []),
          `details: ${JSON.stringify(alert.details)}`,
          `alert id: ${alert.id}`,
        ].join('\n'),
      });
      return { messageId: String(info.messageId) };
    } finally {
      transport.close();
    }
  };
}
