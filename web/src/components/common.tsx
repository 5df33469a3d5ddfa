import type { ReactNode } from 'react';
import type { AlertStatus, BackupStatus, BatchStatus, HealthStatus, ImageStatus, Progress } from '../api.js';

export function ProgressBar({ value, max, label, testId }: { value: number; max: number; label?: string; testId?: string }) {
  const pct = max > 0 ? Math.min(100, Math.round((value / max) * 100)) : 0;
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={max} aria-valuenow={value} data-testid={testId}>
      <div className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-label">{label ?? `${pct}%`}</span>
    </div>
  );
}

export function BatchProgress({ progress }: { progress: Progress }) {
  const finished = progress.done + progress.failed;
  return (
    <ProgressBar value={finished} max={progress.total} label={`${finished} / ${progress.total}${progress.failed ? ` (${progress.failed} failed)` : ''}`} />
  );
}

/** The statuses a badge shows (a CSS class each, web/src/styles). */
export type BadgeStatus = BatchStatus | ImageStatus | AlertStatus | HealthStatus | BackupStatus;

export function StatusBadge({ status }: { status: BadgeStatus }) {
  return (
    <span className={`badge badge-${status}`} data-testid="status">
      {status.replace(/_/g, ' ')}
    </span>
  );
}

export function ErrorNote({ error }: { error: Error | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error.message}
    </p>
  );
}

export function Page({ title, actions, children }: { title: ReactNode; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="page">
      <header className="page-header">
        <h1>{title}</h1>
        <div className="page-actions">{actions}</div>
      </header>
      {children}
    </section>
  );
}

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

/** "face ×1, dog ×2" */
export function labelCounts(labels: string[]): string {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].map(([l, n]) => `${l} ×${n}`).join(', ');
}

/** Saves a blob: URL as a file named `filename` (a click on a temporary link), then revokes the URL. */
export function saveDownload(url: string, filename: string): void {
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
