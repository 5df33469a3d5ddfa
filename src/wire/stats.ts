// The /v1/stats answer, defined once (see batches.ts): the fleet over time as
// chart series. Every series has one point per step of the window, in time
// order, all at the same times, so a chart library that wants aligned columns
// (uPlot) takes them as they are. A step with no image is 0 in the counts and
// null in the percentiles (a gap, not a fall to zero); a step no health probe
// ran in is null in detectWaiting.
import { z } from 'zod';
import type { Json } from './json.js';

/** The most points one answer may hold (24 h at 60 s is 1,440 or 1,441). */
export const STATS_MAX_POINTS = 2000;
/** Without `step`, the smallest step of STATS_DEFAULT_STEPS (or whole days) that keeps the window to this many points. */
export const STATS_DEFAULT_POINTS = 500;
/** Steps chosen when none is asked for, in seconds; beyond them, whole days. */
export const STATS_DEFAULT_STEPS = [60, 300, 900, 3600, 10800, 21600, 43200, 86400] as const;
/** Without `since`, the window is this long (ms). */
export const STATS_DEFAULT_WINDOW_MS = 3_600_000;

const time = z.int().describe('start of the step, ms since the epoch');
const countPoint = z.tuple([time, z.int()]);
const valuePoint = z.tuple([time, z.number().nullable()]);
const counts = (what: string) => z.array(countPoint).describe(`${what} per step; 0 when none`);
const values = (what: string) => z.array(valuePoint).describe(`${what} per step; null when the step has none`);

/** GET /v1/stats. */
export const statsSchema = z.object({
  step: z.int().describe('seconds per point, as used: the asked step rounded up to whole minutes (from 3600 s, whole hours)'),
  series: z.object({
    imagesDone: counts('images finished done (cache hits included), by finish time'),
    imagesFailed: counts('images finished failed, by finish time'),
    cacheHits: counts('images answered from the cache, by finish time (part of imagesDone)'),
    latencyP50Ms: values('median time from queued to finished (done and failed images), ms, within 4.5 %'),
    latencyP95Ms: values('95th percentile of the time from queued to finished, ms, within 4.5 %'),
    stageP50Ms: z
      .object({
        decode: values('median decode time of images the model ran on, ms'),
        preprocess: values('median preprocess time, ms'),
        inference: values('median inference time, ms'),
        postprocess: values('median postprocess time, ms'),
      })
      .describe('per stage, images the model ran on (not cache hits); ms, within 4.5 %'),
    detectWaiting: values('jobs waiting on the detect queue: the most any health probe of the step saw'),
  }),
});

export type Stats = Json<z.infer<typeof statsSchema>>;
export type StatsPoint = [number, number | null];
