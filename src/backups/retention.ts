// Which backups to keep: the newest of each of the last N days, N weeks and
// N months (grandfather-father-son), never the newest verified backup, never
// one still running. Pure: the clock comes in, tests inject it.

export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
}

export interface RetainableBackup {
  id: string;
  status: string;
  createdAt: Date;
}

const dayKey = (d: Date) => d.toISOString().slice(0, 10);
const monthKey = (d: Date) => d.toISOString().slice(0, 7);
function weekKey(d: Date): string {
  // ISO week: the Thursday of this week decides the year.
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(t.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((t.getTime() - yearStart.getTime()) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Ids to prune, newest first. Only finished backups (succeeded, verified) compete for slots. */
export function backupsToPrune(backups: readonly RetainableBackup[], policy: RetentionPolicy, now: Date): string[] {
  const candidates = backups
    .filter((b) => (b.status === 'succeeded' || b.status === 'verified') && b.createdAt <= now)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const keep = new Set<string>();
  const newestVerified = candidates.find((b) => b.status === 'verified');
  if (newestVerified) keep.add(newestVerified.id);

  const buckets: Array<[(d: Date) => string, number]> = [
    [dayKey, policy.daily],
    [weekKey, policy.weekly],
    [monthKey, policy.monthly],
  ];
  for (const [keyOf, count] of buckets) {
    const seen = new Set<string>();
    for (const b of candidates) {
      if (seen.size >= count) break;
      const key = keyOf(b.createdAt);
      if (seen.has(key)) continue;
      seen.add(key); // the newest backup of this period
      keep.add(b.id);
    }
  }
  // Failed and verify_failed backups are left alone: evidence for whoever investigates.
  return candidates.filter((b) => !keep.has(b.id)).map((b) => b.id);
}
