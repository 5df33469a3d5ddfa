// Alert rules over a health check: each unhealthy component becomes a
// condition under the rule its name belongs to; some rules must hold for a
// while before they fire (a backlog may be a burst).
import type { AlertConfig } from '../config/config.js';
import type { AlertSeverity } from '../db/repositories/alerts.js';
import type { ComponentHealth, HealthCheck } from '../db/repositories/health-checks.js';

export interface AlertCondition {
  rule: string;
  key: string;
  severity: AlertSeverity;
  message: string;
  details: Record<string, unknown>;
  /** How long the condition must hold before the alert fires. */
  forMinutes: number;
}

interface Rule {
  name: string;
  matches: (component: string) => boolean;
  forMinutes?: (config: AlertConfig) => number;
  /** false: the component shows on the health page but raises no alert. */
  alerts?: false;
}

// Order matters: the first rule whose pattern matches a component owns it.
export const RULES: readonly Rule[] = [
  { name: 'queue_backlog', matches: (c) => /^queue\..+\.backlog$/.test(c), forMinutes: (config) => config.backlogMinutes },
  { name: 'queue_failure_rate', matches: (c) => /^queue\..+\.failure_rate$/.test(c) },
  { name: 'queue_no_worker', matches: (c) => /^queue\..+\.workers$/.test(c) },
  { name: 'backup_stale', matches: (c) => c === 'backup.age' },
  // Backups off is a choice (or an omission `config check` and the health page
  // point out, with the fix), not an incident: a warning there, never an alert.
  { name: 'backups_off', matches: (c) => c === 'backup.enabled', alerts: false },
  { name: 'disk_low', matches: (c) => c.startsWith('disk.') },
  { name: 'backup_dir', matches: (c) => c === 'backup.dir' },
  { name: 'redis_eviction_policy', matches: (c) => c === 'redis.eviction_policy' },
  { name: 'redis_memory', matches: (c) => c === 'redis.memory' },
  { name: 'gpu_hot', matches: (c) => c.startsWith('gpu.') },
  { name: 'lost_work', matches: (c) => c === 'reconcile.lost_work' },
  // WAL not reaching the archive (failing, or waiting past ALERT_ARCHIVE_LAG_MINUTES): point-in-time
  // recovery stops at the last archived segment. Archiving off is ok there: no alert.
  { name: 'wal_archiving', matches: (c) => c === 'postgres.archiving' },
  { name: 'dependency_down', matches: () => true },
];

export function ruleFor(component: string): string {
  return RULES.find((r) => r.matches(component))!.name;
}

/** The alert conditions of a check: one per unhealthy component whose rule alerts. */
export function conditionsFrom(check: HealthCheck, config: AlertConfig): AlertCondition[] {
  return check.components
    .filter((c: ComponentHealth) => c.status !== 'ok')
    .map((c) => ({ c, rule: RULES.find((r) => r.matches(c.name))! }))
    .filter(({ rule }) => rule.alerts !== false)
    .map(({ c, rule }) => ({
      rule: rule.name,
      key: c.name,
      severity: c.status === 'critical' ? 'critical' : 'warning',
      message: c.message,
      details: { value: c.value, threshold: c.threshold, ...(c.unit ? { unit: c.unit } : {}) },
      forMinutes: rule.forMinutes?.(config) ?? 0,
    }));
}
