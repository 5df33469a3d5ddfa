// The alert state machine, run after every health check: a condition opens a
// pending alert, which fires once it has held for its rule's time; a firing
// alert notifies once, again only every `repeatMinutes` while it stays
// firing (unless silenced), and once more when it resolves. Serialised by an
// advisory lock, so two probes at once cannot double-notify.
import { randomUUID } from 'node:crypto';
import { lockForTransaction } from '../db/advisory-lock.js';
import { withTransaction, type Pool } from '../db/pool.js';
import { insertAlert, openAlerts, updateAlert, type AlertRecord } from '../db/repositories/alerts.js';
import type { AlertCondition } from './rules.js';

export type AlertEvent = 'firing' | 'repeat' | 'resolved';

export interface Notification {
  alertId: string;
  event: AlertEvent;
}

const LOCK_KEY = 0x616c7274; // 'alrt'

export async function evaluateAlerts(
  pool: Pool,
  conditions: readonly AlertCondition[],
  options: { now: Date; repeatMinutes: number },
): Promise<Notification[]> {
  const { now } = options;
  const notifications: Notification[] = [];
  return withTransaction(pool, async (client) => {
    await lockForTransaction(client, LOCK_KEY);
    const open = new Map((await openAlerts(client)).map((a) => [`${a.rule}\u0000${a.key}`, a]));
    const seen = new Set<string>();

    for (const c of conditions) {
      const id = `${c.rule}\u0000${c.key}`;
      seen.add(id);
      const existing = open.get(id);
      if (!existing) {
        const alertId = randomUUID();
        const fireNow = c.forMinutes <= 0;
        await insertAlert(client, {
          id: alertId,
          rule: c.rule,
          key: c.key,
          severity: c.severity,
          status: fireNow ? 'firing' : 'pending',
          message: c.message,
          details: c.details,
          now,
        });
        if (fireNow) {
          await updateAlert(client, alertId, { now, notified: true });
          notifications.push({ alertId, event: 'firing' });
        }
        continue;
      }
      if (existing.status === 'pending') {
        const heldMinutes = (now.getTime() - existing.pendingSince.getTime()) / 60_000;
        const fires = heldMinutes >= c.forMinutes;
        await updateAlert(client, existing.id, {
          message: c.message,
          details: c.details,
          severity: c.severity,
          now,
          ...(fires ? { status: 'firing', notified: true } : {}),
        });
        if (fires) notifications.push({ alertId: existing.id, event: 'firing' });
        continue;
      }
      // firing
      const due = dueForRepeat(existing, now, options.repeatMinutes);
      await updateAlert(client, existing.id, { message: c.message, details: c.details, severity: c.severity, now, notified: due });
      if (due) notifications.push({ alertId: existing.id, event: 'repeat' });
    }

    for (const [id, alert] of open) {
      if (seen.has(id)) continue;
      const wasFiring = alert.status === 'firing';
      await updateAlert(client, alert.id, { status: 'resolved', now, notified: wasFiring });
      if (wasFiring) notifications.push({ alertId: alert.id, event: 'resolved' });
    }
    return notifications;
  });
}

function dueForRepeat(alert: AlertRecord, now: Date, repeatMinutes: number): boolean {
  if (repeatMinutes <= 0 || !alert.lastNotifiedAt) return false;
  if (alert.silencedUntil && alert.silencedUntil > now) return false;
  return now.getTime() - alert.lastNotifiedAt.getTime() >= repeatMinutes * 60_000;
}
