// The alert state machine with an injected clock: pending until a rule's
// time has passed, one firing, repeats only after the repeat interval and not
// while silenced, one resolved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateAlerts } from '../../src/alerts/evaluate-alerts.js';
import type { AlertCondition } from '../../src/alerts/rules.js';
import { listAlerts, silenceAlert } from '../../src/db/repositories/alerts.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let services: Services;
beforeAll(async () => {
  env = await createTestEnv('alert_state');
  services = await env.open();
});
afterAll(() => env.cleanup());

const backlog: AlertCondition = {
  rule: 'queue_backlog',
  key: 'queue.detect.backlog',
  severity: 'warning',
  message: '5000 waiting',
  details: {},
  forMinutes: 10,
};
const t = (minutes: number) => new Date(Date.UTC(2026, 10, 29, 12, minutes));

describe('evaluateAlerts', () => {
  it('pending → firing after the rule time → repeat → silenced → resolved', async () => {
    const run = (conditions: AlertCondition[], minutes: number) => evaluateAlerts(services.pool, conditions, { now: t(minutes), repeatMinutes: 30 });
    expect(await run([backlog], 0)).toEqual([]); // pending
    expect(await run([backlog], 5)).toEqual([]); // held 5 of 10 minutes
    const [fired] = await run([backlog], 10);
    expect(fired).toMatchObject({ event: 'firing' });
    expect(await run([backlog], 20)).toEqual([]); // firing, no repeat yet
    expect(await run([backlog], 40)).toEqual([{ alertId: fired!.alertId, event: 'repeat' }]);
    await silenceAlert(services.pool, fired!.alertId, t(200), 'test');
    expect(await run([backlog], 75)).toEqual([]); // silenced: no repeat
    expect(await run([], 80)).toEqual([{ alertId: fired!.alertId, event: 'resolved' }]);
    expect(await run([], 90)).toEqual([]);
    const [alert] = await listAlerts(services.pool);
    expect(alert).toMatchObject({ status: 'resolved', notifications: 3, firedAt: t(10), resolvedAt: t(80) });
  });

  it('a condition that clears while pending resolves without a notification', async () => {
    const run = (conditions: AlertCondition[], minutes: number) => evaluateAlerts(services.pool, conditions, { now: t(minutes), repeatMinutes: 30 });
    expect(await run([{ ...backlog, key: 'queue.batches.backlog' }], 100)).toEqual([]);
    expect(await run([], 105)).toEqual([]);
    const alerts = await listAlerts(services.pool, 'resolved');
    expect(alerts.find((a) => a.key === 'queue.batches.backlog')).toMatchObject({ notifications: 0, firedAt: null });
  });

  it('two evaluations at once notify once', async () => {
    const critical: AlertCondition = {
      rule: 'queue_no_worker',
      key: 'queue.health.workers',
      severity: 'critical',
      message: 'none',
      details: {},
      forMinutes: 0,
    };
    const results = await Promise.all([1, 2, 3].map(() => evaluateAlerts(services.pool, [critical], { now: t(300), repeatMinutes: 30 })));
    expect(results.flat().filter((n) => n.event === 'firing')).toHaveLength(1);
  });
});
