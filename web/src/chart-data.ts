// GET /v1/stats's series, made ready for uPlot: one shared time axis per
// chart, in seconds (uPlot's time unit), the whole chosen window on it, and a
// value or a gap for every series at every instant. Pure: no DOM, no React.

/** One `[epochMs, value]` point of a /v1/stats series; value null for an empty bucket (percentiles). */
export type StatsPoint = readonly [number, number | null];

/** uPlot's AlignedData: x in epoch seconds, then one array per series (null: a gap). */
export type AlignedSeries = [number[], ...Array<Array<number | null>>];

export interface AlignOptions {
  /** The window, epoch ms. */
  sinceMs: number;
  untilMs: number;
  /** The bucket width, ms (the answer's `step` × 1000). */
  stepMs: number;
  /**
   * What a bucket the answer leaves out means: `zero` for counts (no image
   * finished then), `gap` for measurements (percentiles, the backlog: none
   * taken then, drawn as a break in the line).
   */
  missing: 'zero' | 'gap';
  /** Each value is multiplied by this (counts per bucket → per minute: 60 / step s); 1 by default. */
  factor?: number;
}

/**
 * Puts `series` on one time axis: every bucket of the window (the buckets'
 * phase taken from the answer's own first point, or the window's start when
 * there is none) plus every instant a series has, sorted; each series gets
 * its value there, or 0 / null (`missing`) where it has none. A point's own
 * null stays null whatever `missing` says.
 */
export function alignSeries(series: ReadonlyArray<ReadonlyArray<StatsPoint> | undefined>, options: AlignOptions): AlignedSeries {
  const { sinceMs, untilMs, stepMs, missing, factor = 1 } = options;
  const instants = new Set<number>();
  const first = series.find((s) => s && s.length > 0)?.[0]?.[0];
  if (stepMs > 0 && untilMs >= sinceMs) {
    const phase = (((first ?? sinceMs) % stepMs) + stepMs) % stepMs;
    let t = sinceMs - ((((sinceMs - phase) % stepMs) + stepMs) % stepMs);
    if (t < sinceMs) t += stepMs;
    // At most 10,000 buckets: a window far larger than its step is the answer's to thin, not the browser's.
    for (let n = 0; t <= untilMs && n < 10_000; t += stepMs, n++) instants.add(t);
  }
  for (const s of series) for (const [t] of s ?? []) instants.add(t);
  const xsMs = [...instants].sort((a, b) => a - b);
  const columns = series.map((s) => {
    const byTime = new Map<number, number | null>();
    for (const [t, v] of s ?? []) byTime.set(t, v);
    return xsMs.map((t) => {
      if (!byTime.has(t)) return missing === 'zero' ? 0 : null;
      const v = byTime.get(t)!;
      return v === null ? null : v * factor;
    });
  });
  return [xsMs.map((t) => t / 1000), ...columns];
}

/** How many values of the aligned columns (not x) are a number above zero: what "the chart has data" means. */
export function pointsWithData(aligned: AlignedSeries): number {
  let n = 0;
  for (const column of aligned.slice(1) as Array<Array<number | null>>) for (const v of column) if (v !== null && v > 0) n++;
  return n;
}

/** The sum of a series' values (nulls count as nothing). */
export function total(points: ReadonlyArray<StatsPoint> | undefined): number {
  let sum = 0;
  for (const [, v] of points ?? []) sum += v ?? 0;
  return sum;
}

/**
 * A duration for an axis or a legend: "<0.1 ms", "0.8 ms", "850 ms", "12 s", "4.5 min", "2.1 h".
 * null → "—".
 */
export function formatDurationMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const trim = (n: number) => String(Number(n.toFixed(n < 10 ? 1 : 0)));
  if (ms > 0 && ms < 0.05) return '<0.1 ms';
  if (ms < 1000) return `${trim(ms)} ms`;
  if (ms < 60_000) return `${trim(ms / 1000)} s`;
  if (ms < 3_600_000) return `${trim(ms / 60_000)} min`;
  return `${trim(ms / 3_600_000)} h`;
}

/** A rate or a count for an axis or a legend: 3 significant digits at most, no trailing zeros ("0.25", "12", "1.2k"). null → "—". */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (Math.abs(n) >= 10_000) return `${Number((n / 1000).toFixed(1))}k`;
  if (Math.abs(n) >= 100 || Number.isInteger(n)) return String(Math.round(n));
  return String(Number(n.toPrecision(2)));
}
