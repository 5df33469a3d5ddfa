// /v1/stats: the fleet over time, as chart series (src/health/fleet-stats.ts).
import { z } from 'zod';
import { fleetStats, resolveStatsWindow } from '../../health/fleet-stats.js';
import type { Services } from '../../runtime/services.js';
import { STATS_DEFAULT_POINTS, STATS_MAX_POINTS, statsSchema } from '../../wire/stats.js';
import { badRequest } from '../http-errors.js';
import { route, type ApiRoute } from '../route-spec.js';

const ISO_TIME = 'expected an ISO 8601 time with its zone, e.g. 2026-11-29T12:00:00Z';
const isoTime = z.iso
  .datetime({ offset: true, error: ISO_TIME })
  .transform((s) => new Date(s))
  .optional();

const statsQuery = z
  .object({
    since: isoTime.describe('start of the window (default: an hour before until)'),
    until: isoTime.describe('end of the window, not included (default: now)'),
    step: z.coerce
      .number({ error: 'expected a whole number of seconds, at least 1' })
      .int({ error: 'expected a whole number of seconds, at least 1' })
      .min(1, { error: 'expected a whole number of seconds, at least 1' })
      .max(366 * 86_400, { error: 'at most 31622400 (366 days)' })
      .optional()
      .describe(
        `seconds per point, rounded up to whole minutes (from 3600, whole hours); default: the smallest of 60, 300, 900, 3600, … that keeps the window to ${STATS_DEFAULT_POINTS} points`,
      ),
  })
  .strict();

export function statsRoutes(services: Services): ApiRoute[] {
  return [
    route(
      {
        method: 'get',
        path: '/stats',
        operationId: 'getStats',
        summary: 'The fleet over time: images per step, latency and stage percentiles, detect backlog',
        description:
          'One point per step in every series, at the same times (ms since the epoch, the start of each step; steps aligned to the epoch; the window ' +
          `widened to whole steps). Counts are 0 in a step without images; percentiles and the backlog are null there. At most ${STATS_MAX_POINTS} points. ` +
          'Counts and latency come from the images (by the time they finished); stage medians from images the model ran on; ' +
          'percentiles are read from log-scale histograms, within 4.5 %; the backlog is what the health probes recorded.',
        tag: 'fleet',
        role: 'viewer',
        query: statsQuery,
        responses: { 200: { description: 'Series', schema: statsSchema } },
      },
      async ({ res, query }) => {
        const resolved = resolveStatsWindow(query, new Date());
        if ('error' in resolved) throw badRequest(resolved.error);
        res.json(await fleetStats(services.pool, resolved.window));
      },
    ),
  ];
}
