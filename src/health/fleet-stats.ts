// The fleet over time (GET /v1/stats): images done, failed and answered from
// the cache, latency and stage percentiles from the images rollup (migration
// 0011), and the detect backlog from the health probes' history, as series
// with one point per step.
//
// Steps are whole minutes (whole hours from 3600 s), multiples of the rollup's
// buckets (1 minute, 5 minutes, an hour): a finer or odd step is rounded up,
// and the answer says which was used. Points start at multiples of the step
// since the epoch; the window [since, until) is widened to whole steps, so the
// first and last points cover a whole step each, and the last one (the
// current step) fills as images finish.
import type { Pool } from '../db/pool.js';
import { detectWaitingByStep } from '../db/repositories/health-checks.js';
import {
  foldImageStats,
  ROLLUP_RESOLUTIONS,
  rollupBucketQuantiles,
  rollupBuckets,
  type RollupBucket,
  type RollupBucketQuantiles,
  type RollupResolution,
} from '../db/repositories/image-stats.js';
import { addHistogram, quantileMs, reportedMs, type Histogram } from '../db/stats-histogram.js';
import { STATS_DEFAULT_POINTS, STATS_DEFAULT_STEPS, STATS_DEFAULT_WINDOW_MS, STATS_MAX_POINTS, type Stats } from '../wire/stats.js';

export interface StatsWindow {
  since: Date;
  until: Date;
  /** Seconds per point: a whole number of minutes, or of hours from 3600. */
  step: number;
  /** The first point's start, ms since the epoch (since, rounded down to the step). */
  first: number;
  points: number;
}

/** A step as the rollup can answer it: up to whole minutes, from 3600 s up to whole hours. */
export const roundStep = (seconds: number): number => (seconds < 3600 ? Math.ceil(seconds / 60) * 60 : Math.ceil(seconds / 3600) * 3600);

/** The rollup buckets a step is read from: the largest size that divides it (so a step of 300 s reads 5-minute buckets, one per point). */
export const resolutionFor = (step: number): RollupResolution => [...ROLLUP_RESOLUTIONS].reverse().find((r) => step % r === 0) ?? 60;

/** Points a window takes at `step` seconds: the steps [since, until) touches. */
export const pointsOf = (since: Date, until: Date, step: number): number =>
  Math.ceil(until.getTime() / (step * 1000)) - Math.floor(since.getTime() / (step * 1000));

function defaultStep(since: Date, until: Date): number {
  for (const step of STATS_DEFAULT_STEPS) if (pointsOf(since, until, step) <= STATS_DEFAULT_POINTS) return step;
  let days = Math.ceil((until.getTime() - since.getTime()) / 86_400_000 / STATS_DEFAULT_POINTS);
  while (pointsOf(since, until, days * 86_400) > STATS_DEFAULT_POINTS) days++;
  return days * 86_400;
}

/** The smallest step (as roundStep makes them) that fits the window into STATS_MAX_POINTS. */
function smallestStep(since: Date, until: Date): number {
  let step = roundStep(Math.max(60, Math.ceil((until.getTime() - since.getTime()) / 1000 / STATS_MAX_POINTS)));
  while (pointsOf(since, until, step) > STATS_MAX_POINTS) step = roundStep(step + 1);
  return step;
}

/**
 * The window of a /v1/stats query: until defaults to `now`, since to an
 * hour before until, step to the smallest of STATS_DEFAULT_STEPS (then whole
 * days) that keeps it to STATS_DEFAULT_POINTS points; a step asked for is
 * rounded up (roundStep). An error (for a 400) when since is not before
 * until, or the window would take more than STATS_MAX_POINTS points (it
 * names the smallest step that fits).
 */
export function resolveStatsWindow(query: { since?: Date; until?: Date; step?: number }, now: Date): { window: StatsWindow } | { error: string } {
  const until = query.until ?? now;
  const since = query.since ?? new Date(until.getTime() - STATS_DEFAULT_WINDOW_MS);
  if (since.getTime() >= until.getTime()) {
    return { error: `since (${since.toISOString()}) must be before until (${until.toISOString()})` };
  }
  const step = query.step === undefined ? defaultStep(since, until) : roundStep(query.step);
  const points = pointsOf(since, until, step);
  if (points > STATS_MAX_POINTS) {
    return {
      error:
        `step: ${since.toISOString()} to ${until.toISOString()} at ${step} s per point is ${points} points, more than the ${STATS_MAX_POINTS} allowed: ` +
        `ask for step=${smallestStep(since, until)} or more, or a shorter window`,
    };
  }
  return { window: { since, until, step, first: Math.floor(since.getTime() / (step * 1000)) * step * 1000, points } };
}

const STAGES = ['decode', 'preprocess', 'inference', 'postprocess'] as const;
type Stage = (typeof STAGES)[number];

/** Per point of the window: counts (0 where no image) and percentiles in ms (null where none). */
interface PointValues {
  done: number[];
  failed: number[];
  cacheHits: number[];
  latencyP50: Array<number | null>;
  latencyP95: Array<number | null>;
  stageP50: Record<Stage, Array<number | null>>;
}

function emptyPoints(n: number): PointValues {
  const values = () => new Array<number | null>(n).fill(null);
  return {
    done: new Array<number>(n).fill(0),
    failed: new Array<number>(n).fill(0),
    cacheHits: new Array<number>(n).fill(0),
    latencyP50: values(),
    latencyP95: values(),
    stageP50: { decode: values(), preprocess: values(), inference: values(), postprocess: values() },
  };
}

const pointOf = (window: StatsWindow, t: number): number => Math.floor((t - window.first) / (window.step * 1000));
const ms = (bin: number | null): number | null => (bin === null ? null : reportedMs(bin));

/** A step of exactly one bucket: the bucket's own counts and percentiles. */
function fromBuckets(buckets: readonly RollupBucketQuantiles[], window: StatsWindow): PointValues {
  const p = emptyPoints(window.points);
  for (const b of buckets) {
    const i = pointOf(window, b.t);
    if (i < 0 || i >= window.points) continue;
    p.done[i] = b.done;
    p.failed[i] = b.failed;
    p.cacheHits[i] = b.cacheHits;
    p.latencyP50[i] = ms(b.latencyP50);
    p.latencyP95[i] = ms(b.latencyP95);
    for (const stage of STAGES) p.stageP50[stage][i] = ms(b[`${stage}P50`]);
  }
  return p;
}

/** A step of several buckets: counts added, histograms merged, percentiles read from the merged ones. */
function fromMergedBuckets(buckets: readonly RollupBucket[], window: StatsWindow): PointValues {
  const p = emptyPoints(window.points);
  const latency = new Array<Histogram | undefined>(window.points);
  const stages = Object.fromEntries(STAGES.map((s) => [s, new Array<Histogram | undefined>(window.points)])) as Record<Stage, Array<Histogram | undefined>>;
  for (const b of buckets) {
    const i = pointOf(window, b.t);
    if (i < 0 || i >= window.points) continue;
    p.done[i]! += b.done;
    p.failed[i]! += b.failed;
    p.cacheHits[i]! += b.cacheHits;
    latency[i] = addHistogram(latency[i] ?? {}, b.latency);
    for (const stage of STAGES) stages[stage][i] = addHistogram(stages[stage][i] ?? {}, b[stage]);
  }
  const quantile = (h: Histogram | undefined, q: number) => (h ? quantileMs(h, q) : null);
  for (let i = 0; i < window.points; i++) {
    p.latencyP50[i] = quantile(latency[i], 0.5);
    p.latencyP95[i] = quantile(latency[i], 0.95);
    for (const stage of STAGES) p.stageP50[stage][i] = quantile(stages[stage][i], 0.5);
  }
  return p;
}

/**
 * GET /v1/stats's answer for a window (resolveStatsWindow): folds the image
 * changes not in the rollup yet, then reads the rollup's buckets of the
 * largest size that divides the step (with their own percentiles when a step
 * is one bucket, with their histograms to merge when it is several) and the
 * probes' backlog samples. Percentiles are within 4.5 % (stats-histogram.ts).
 */
export async function fleetStats(pool: Pool, window: StatsWindow): Promise<Stats> {
  const resolution = resolutionFor(window.step);
  const stepMs = window.step * 1000;
  const from = new Date(window.first);
  const to = new Date(window.first + window.points * stepMs);
  const [points, backlog] = await Promise.all([
    foldImageStats(pool).then(async () =>
      resolution === window.step
        ? fromBuckets(await rollupBucketQuantiles(pool, resolution, from, to), window)
        : fromMergedBuckets(await rollupBuckets(pool, resolution, from, to), window),
    ),
    detectWaitingByStep(pool, from, to, window.step),
  ]);
  const waiting = new Map(backlog.map((s) => [s.t, s.waiting]));
  const times = Array.from({ length: window.points }, (_, i) => window.first + i * stepMs);
  const series = <T>(xs: T[]): Array<[number, T]> => times.map((t, i) => [t, xs[i]!]);
  return {
    step: window.step,
    series: {
      imagesDone: series(points.done),
      imagesFailed: series(points.failed),
      cacheHits: series(points.cacheHits),
      latencyP50Ms: series(points.latencyP50),
      latencyP95Ms: series(points.latencyP95),
      stageP50Ms: {
        decode: series(points.stageP50.decode),
        preprocess: series(points.stageP50.preprocess),
        inference: series(points.stageP50.inference),
        postprocess: series(points.stageP50.postprocess),
      },
      detectWaiting: times.map((t) => [t, waiting.get(t) ?? null]),
    },
  };
}
