// Prometheus metrics of one process (prom-client, a registry per process
// passed in, no global): default process metrics, queue depth by state, job
// durations, detection stages, batch sizes, images, detect wait per lane,
// images waiting per key (top N), worker liveness, the
// latest health probe values, the newest restore drill's RPO and RTO, and GPUs where nvidia-smi exists.
import type { Queue } from 'bullmq';
import client from 'prom-client';
import type { Pool } from '../db/pool.js';
import { latestHealthCheck } from '../db/repositories/health-checks.js';
import { queuedImagesByKey } from '../db/repositories/images.js';
import { latestPitrDrill } from '../db/repositories/backups.js';
import { readGpus } from '../health/gpus.js';
import { isQueueUnavailable } from '../redis/queue-redis.js';
import { JOB_COUNT_STATES } from '../wire/queues.js';

export interface Metrics {
  registry: client.Registry;
  jobDuration: client.Histogram<'queue' | 'name' | 'outcome'>;
  detectStage: client.Histogram<'stage' | 'model' | 'device'>;
  detectBatchSize: client.Histogram;
  images: client.Counter<'outcome'>;
  workerUp: client.Gauge<'queues'>;
  reconcileActions: client.Counter<'kind'>;
  detectWait: client.Histogram<'lane'>;
}

/** The keys lookout_detect_waiting_images names one by one; the rest are summed as key="other". */
export const WAITING_IMAGES_TOP_KEYS = 10;

const STAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function createMetrics(deps: { queues: Iterable<Queue>; pool: Pool }): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const queues = [...deps.queues];

  new client.Gauge({
    name: 'lookout_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      // While Redis is away the queues refuse at once and the series are
      // absent (alert on absent()); the rest of the scrape still answers.
      await Promise.all(
        queues.map(async (q) => {
          const counts = await q.getJobCounts(...JOB_COUNT_STATES).catch((err: unknown) => {
            if (!isQueueUnavailable(err)) throw err;
          });
          for (const [state, n] of Object.entries(counts ?? {})) this.set({ queue: q.name, state }, n);
        }),
      );
    },
  });

  const probeValue = new client.Gauge({
    name: 'lookout_probe_value',
    help: 'Latest health probe measurement per component',
    labelNames: ['component'],
    registers: [registry],
  });
  new client.Gauge({
    name: 'lookout_probe_status',
    help: 'Latest health probe status per component (0 ok, 1 warn, 2 critical)',
    labelNames: ['component'],
    registers: [registry],
    async collect() {
      this.reset();
      probeValue.reset();
      const latest = await latestHealthCheck(deps.pool).catch(() => undefined);
      for (const c of latest?.components ?? []) {
        this.set({ component: c.name }, c.status === 'ok' ? 0 : c.status === 'warn' ? 1 : 2);
        if (typeof c.value === 'number') probeValue.set({ component: c.name }, c.value);
      }
    },
  });

  new client.Gauge({
    name: 'lookout_detect_waiting_images',
    help: `Images queued per API key (key id), the ${WAITING_IMAGES_TOP_KEYS} keys with the most; the rest summed as key="other"`,
    labelNames: ['key'],
    registers: [registry],
    async collect() {
      this.reset();
      // Postgres away: the series are absent, the rest of the scrape answers.
      const rows = await queuedImagesByKey(deps.pool, WAITING_IMAGES_TOP_KEYS).catch(() => []);
      for (const r of rows) this.set({ key: r.key }, r.images);
    },
  });

  // The newest restore drill's RPO and RTO, from the catalogue at each scrape: any process shows them,
  // not only the pitr worker that ran the drill. Absent before the first drill. One read per scrape,
  // shared by the three gauges (a scrape collects them together).
  let drill: { at: number; value: ReturnType<typeof latestPitrDrill> } | undefined;
  const latestDrill = () => {
    if (!drill || Date.now() - drill.at > 1000) drill = { at: Date.now(), value: latestPitrDrill(deps.pool).catch(() => undefined) };
    return drill.value;
  };
  const drillGauge = (name: string, help: string, value: (d: NonNullable<Awaited<ReturnType<typeof latestPitrDrill>>>) => number | null) =>
    new client.Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.reset();
        const d = await latestDrill();
        const v = d ? value(d) : null;
        if (v !== null) this.set(v);
      },
    });
  drillGauge('lookout_pitr_drill_rpo_seconds', "Newest point-in-time restore drill: its target time minus the last archived WAL's time", (d) => d.rpoSeconds);
  drillGauge('lookout_pitr_drill_rto_seconds', 'Newest point-in-time restore drill: restore and start duration', (d) => d.rtoSeconds);
  drillGauge('lookout_pitr_drill_timestamp_seconds', 'Newest point-in-time restore drill that passed: when (Unix time)', (d) => d.at.getTime() / 1000);

  const gpuGauges = {
    utilization: new client.Gauge({ name: 'lookout_gpu_utilization_ratio', help: 'GPU utilisation 0..1', labelNames: ['gpu'], registers: [registry] }),
    memoryUsed: new client.Gauge({ name: 'lookout_gpu_memory_used_bytes', help: 'GPU memory used', labelNames: ['gpu'], registers: [registry] }),
    memoryTotal: new client.Gauge({ name: 'lookout_gpu_memory_total_bytes', help: 'GPU memory total', labelNames: ['gpu'], registers: [registry] }),
    temperature: new client.Gauge({
      name: 'lookout_gpu_temperature_celsius',
      help: 'GPU temperature',
      labelNames: ['gpu'],
      registers: [registry],
      async collect() {
        const gpus = await readGpus();
        for (const g of gpus ?? []) {
          const gpu = String(g.index);
          this.set({ gpu }, g.temperatureC);
          gpuGauges.utilization.set({ gpu }, g.utilization);
          gpuGauges.memoryUsed.set({ gpu }, g.memoryUsedBytes);
          gpuGauges.memoryTotal.set({ gpu }, g.memoryTotalBytes);
        }
      },
    }),
  };

  return {
    registry,
    jobDuration: new client.Histogram({
      name: 'lookout_job_duration_seconds',
      help: 'Job processing time by queue, job name and outcome',
      labelNames: ['queue', 'name', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers: [registry],
    }),
    detectStage: new client.Histogram({
      name: 'lookout_detect_stage_seconds',
      help: 'Detection time per image and stage: decode (blob read, header), preprocess (pixel decode, letterbox, tensor), inference, postprocess',
      labelNames: ['stage', 'model', 'device'],
      buckets: STAGE_BUCKETS,
      registers: [registry],
    }),
    detectBatchSize: new client.Histogram({
      name: 'lookout_detect_batch_size',
      help: 'Images per session.run',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
    images: new client.Counter({
      name: 'lookout_images_total',
      help: 'Images finished, by outcome (done, cache_hit, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    reconcileActions: new client.Counter({
      name: 'lookout_reconcile_actions_total',
      help: 'What the reconciler repaired: requeued_image, finalised_batch, restored_scheduler',
      labelNames: ['kind'],
      registers: [registry],
    }),
    detectWait: new client.Histogram({
      name: 'lookout_detect_wait_seconds',
      help: 'Time a detect-image job waited, from queued to its first start, by lane (interactive, bulk)',
      labelNames: ['lane'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 14400],
      registers: [registry],
    }),
    workerUp: new client.Gauge({
      name: 'lookout_worker_up',
      help: '1 while this process runs workers for these queues',
      labelNames: ['queues'],
      registers: [registry],
    }),
  };
}
