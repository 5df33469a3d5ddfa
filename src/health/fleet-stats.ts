// The fleet over time (GET /v1/stats): images done, failed and answered from
// the cache, latency and stage percentiles from the images rollup (migration
// 0011), and the detect backlog from the health probes' history, as series
// with one point per step.
//
// Steps are whole minutes (whole hours from 3600 s), the rollup's buckets: a
// finer or odd step is rounded up, and the answer says which was used. Points
// start at multiples of the step since the epoch; the window [since, until)
// is widened to whole steps, so the first and last points cover a whole step
// each, and the last one (the current step) fills as images finish.
import type { Pool } from '../db/pool.js';
import { detectWaitingByStep } from '../db/repositories/health-checks.js';
import { foldImageStats, rollupBuckets, type RollupBucket } from '../db/repositories/image-stats.js';
import { addHistogram, quantileMs, type Histogram } from '../db/stats-histogram.js';
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

type Stage = 'decode' | 'preprocess' | 'inference' | 'postprocess';
const STAGES: readonly Stage[] = ['decode', 'preprocess', 'inference', 'postprocess'];

/** Per point: counts, and histograms (absent where no image). */
interface Accumulated {
  done: number[];
  failed: number[];
  cacheHits: number[];
  latency: Array<Histogram | undefined>;
  stages: Record<Stage, Array<Histogram | undefined>>;
}

function accumulate(buckets: readonly RollupBucket[], window: StatsWindow, merging: boolean): Accumulated {
  const n = window.points;
  const histograms = () => new Array<Histogram | undefined>(n);
  const acc: Accumulated = {
    done: new Array<number>(n).fill(0),
    failed: new Array<number>(n).fill(0),
    cacheHits: new Array<number>(n).fill(0),
    latency: histograms(),
    stages: { decode: histograms(), preprocess: histograms(), inference: histograms(), postprocess: histograms() },
  };
  // A bucket is one point when the step is the rollup's own; else several add into one.
  const put = (into: Array<Histogram | undefined>, i: number, h: Histogram) => {
    into[i] = merging ? addHistogram(into[i] ?? {}, h) : h;
  };
  const stepMs = window.step * 1000;
  for (const b of buckets) {
    const i = Math.floor((b.t - window.first) / stepMs);
    if (i < 0 || i >= n) continue;
    acc.done[i]! += b.done;
    acc.failed[i]! += b.failed;
    acc.cacheHits[i]! += b.cacheHits;
    put(acc.latency, i, b.latency);
    for (const stage of STAGES) put(acc.stages[stage], i, b[stage]);
  }
  return acc;
}

/**
 * GET /v1/stats's answer for a window (resolveStatsWindow): folds the image
 * changes not in the rollup yet, then reads the rollup's minute buckets (hour
 * buckets when the step is whole hours) and the probes' backlog samples.
 * Percentiles are read from merged histograms (within 4.5 %, see
 * stats-histogram.ts).
 */
export async function fleetStats(pool: Pool, window: StatsWindow): Promise<Stats> {
  const resolution = window.step % 3600 === 0 ? 3600 : 60;
  const stepMs = window.step * 1000;
  const from = new Date(window.first);
  const to = new Date(window.first + window.points * stepMs);
  const [buckets, backlog] = await Promise.all([
    foldImageStats(pool).then(() => rollupBuckets(pool, resolution, from, to)),
    detectWaitingByStep(pool, from, to, window.step),
  ]);
  const acc = accumulate(buckets, window, resolution !== window.step);
  const waiting = new Map(backlog.map((s) => [s.t, s.waiting]));
  const times = Array.from({ length: window.points }, (_, i) => window.first + i * stepMs);
  const counted = (xs: number[]): Array<[number, number]> => times.map((t, i) => [t, xs[i]!]);
  const quantiles = (hs: Array<Histogram | undefined>, q: number): Array<[number, number | null]> =>
    times.map((t, i) => [t, hs[i] ? quantileMs(hs[i], q) : null]);
  return {
    step: window.step,
    series: {
      imagesDone: counted(acc.done),
      imagesFailed: counted(acc.failed),
      cacheHits: counted(acc.cacheHits),
      latencyP50Ms: quantiles(acc.latency, 0.5),
      latencyP95Ms: quantiles(acc.latency, 0.95),
      stageP50Ms: {
        decode: quantiles(acc.stages.decode, 0.5),
        preprocess: quantiles(acc.stages.preprocess, 0.5),
        inference: quantiles(acc.stages.inference, 0.5),
        postprocess: quantiles(acc.stages.postprocess, 0.5),
      },
      detectWaiting: times.map((t) => [t, waiting.get(t) ?? null]),
    },
  };
}
