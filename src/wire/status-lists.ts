// The fleet's, the audit trail's and the backups' status lists: the one
// definition the repositories, the API, the jobs and the console share (the
// batch and image lists are batch-status.ts's). No zod here, so the console can
// import the lists at runtime without bundling a schema library. Migrations
// 0002 and 0003 keep their literal lists (migrations are history); a test
// checks them against these.

/** A health check's or a component's status, best first. */
export const HEALTH_STATUSES = ['ok', 'warn', 'critical'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** An alert's severity. */
export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** An alert's status, in its life's order. */
export const ALERT_STATUSES = ['pending', 'firing', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** A worker as the fleet view judges it: beating within its window, or not. */
export const WORKER_STATES = ['live', 'missing'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/** An audit entry's outcome. */
export const AUDIT_OUTCOMES = ['ok', 'error', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** A backup's status. */
export const BACKUP_STATUSES = ['running', 'succeeded', 'failed', 'verified', 'verify_failed', 'pruned'] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

/** The statuses of a backup with a finished file: it may be verified (again, after a failed verify) or restored. */
export const RESTORABLE_BACKUP_STATUSES = ['succeeded', 'verified', 'verify_failed'] as const satisfies readonly BackupStatus[];

export const isRestorable = (status: BackupStatus): boolean => (RESTORABLE_BACKUP_STATUSES as readonly BackupStatus[]).includes(status);
