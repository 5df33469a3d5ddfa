// The fleet as a plain-text table for `lookout workers`.
import type { WorkerView } from '../db/repositories/workers.js';
import { plural } from '../text/format.js';

const ago = (d: Date, now: Date) => {
  const s = Math.max(0, Math.round((now.getTime() - new Date(d).getTime()) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
};

/** One line per worker, aligned columns; `historyHours` is named when the list is empty. */
export function formatWorkersTable(workers: readonly WorkerView[], historyHours: number, now = new Date()): string {
  const header = ['STATE', 'WORKER', 'QUEUES', 'DEVICE', 'CONC', 'VERSION', 'UP', 'SEEN', 'DONE', 'FAILED', 'ACTIVE'];
  const rows = workers.map((w) => [
    w.state === 'live' ? 'live' : w.stoppedAt ? 'stopped' : 'MISSING',
    w.id,
    w.queues.join(','),
    w.device ?? '-',
    String(w.concurrency),
    w.version,
    ago(w.startedAt, now),
    `${ago(w.lastSeen, now)} ago`,
    String(w.jobsDone),
    String(w.jobsFailed),
    String(w.currentJobs.length),
  ]);
  if (rows.length === 0) return `no live workers, and none stopped or missing in the last ${plural(historyHours, 'hour')}\n`;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return (
    [header, ...rows]
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
