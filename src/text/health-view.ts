// Health components for people: problems first, values in their units
// ("3.8 MiB", "1 worker", "12.5 %"). Pure (no Node APIs): the API orders
// /v1/health with it and the console formats the page with it.

import { formatBytes, plural } from './format.js';

export type HealthStatusName = 'ok' | 'warn' | 'critical';

const RANK: Record<string, number> = { critical: 0, warn: 1, ok: 2 };

/** Critical first, then warn, then ok (unknown statuses last); each group keeps its order. */
export function problemsFirst<T extends { status: string }>(components: readonly T[]): T[] {
  return components
    .map((c, i) => [c, i] as const)
    .sort(([a, i], [b, j]) => (RANK[a.status] ?? 3) - (RANK[b.status] ?? 3) || i - j)
    .map(([c]) => c);
}

// Counted units, as the probes name them (plural), and their singular.
const COUNTED: Record<string, string> = { jobs: 'job', workers: 'worker', images: 'image' };

const trim = (n: number, digits: number) => String(Number(n.toFixed(digits)));

/**
 * A probe's value or threshold in its unit: bytes → formatBytes, ratio →
 * percent, counts → plural, ms/hours/°C/percent free with their symbol.
 * null → "—"; a string (an eviction policy) as it is.
 */
export function formatProbeValue(value: number | string | null | undefined, unit?: string): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  switch (unit) {
    case undefined:
      return String(value);
    case 'bytes':
      return formatBytes(value);
    case 'ratio':
      return `${trim(value * 100, 1)} %`;
    case 'percent free':
      return `${trim(value, 1)} % free`;
    case 'ms':
      return `${trim(value, 1)} ms`;
    case 'seconds':
      return `${trim(value, 1)} s`;
    case 'hours':
      return `${trim(value, 1)} h`;
    case 'celsius':
      return `${value} °C`;
    default: {
      const one = COUNTED[unit];
      return one ? plural(value, one, unit) : `${value} ${unit}`;
    }
  }
}
