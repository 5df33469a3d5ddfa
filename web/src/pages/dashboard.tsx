// The fleet over time, the page the console opens on: what needs attention
// now (health problems, first), the fleet in numbers, then charts of the
// chosen window (1 h, 24 h, 7 d) from GET /v1/stats, refreshed live. A fleet
// with nothing to chart says what to do instead of drawing empty axes.
import { useMemo, useState } from 'react';
import { atLeast, type Client, type HealthCheck, type Me, type QueueList, type Stats, type WorkerList } from '../api.js';
import { alignSeries, formatCount, formatDurationMs, total, type AlignedSeries, type StatsPoint } from '../chart-data.js';
import { ErrorNote, Page, StatusBadge, when } from '../components/common.js';
import { TimeChart, type ChartLine } from '../components/time-chart.js';
import { usePoll } from '../use-poll.js';
import { formatProbeValue, problemsFirst } from '../../../src/text/health-view.js';
import { plural } from '../../../src/text/format.js';

interface ChartWindow {
  id: string;
  label: string;
  /** In words, for sentences: "the last hour". */
  words: string;
  ms: number;
  /** The bucket asked for, seconds. */
  step: number;
  /** How often the page asks again, ms. */
  pollMs: number;
}

const WINDOWS: ChartWindow[] = [
  { id: '1h', label: '1 h', words: 'the last hour', ms: 3_600_000, step: 60, pollMs: 10_000 },
  { id: '24h', label: '24 h', words: 'the last 24 hours', ms: 86_400_000, step: 300, pollMs: 30_000 },
  { id: '7d', label: '7 d', words: 'the last 7 days', ms: 7 * 86_400_000, step: 3600, pollMs: 60_000 },
];

// styles.css's colours (--ok, --bad, --accent, --warn) and a few more for the stages.
const COLOR = { done: '#2fbf71', failed: '#ef4e4e', cache: '#4c8dff', p50: '#4c8dff', p95: '#f0b429', backlog: '#a78bfa' };
const STAGES = [
  { key: 'decode', color: '#22d3ee' },
  { key: 'preprocess', color: '#a78bfa' },
  { key: 'inference', color: '#f0b429' },
  { key: 'postprocess', color: '#f472b6' },
] as const;

/** "1 min", "5 min", "1 h": a bucket in words. */
const stepWords = (s: number) => (s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`);

export function DashboardPage({ client, me }: { client: Client; me: Me }) {
  const [windowId, setWindowId] = useState('1h');
  const win = WINDOWS.find((w) => w.id === windowId) ?? WINDOWS[0]!;

  const stats = usePoll(
    async () => {
      const untilMs = Date.now();
      const sinceMs = untilMs - win.ms;
      const q = new URLSearchParams({ since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), step: String(win.step) });
      return { stats: await client.get<Stats>(`/v1/stats?${q}`), sinceMs, untilMs, windowId: win.id };
    },
    win.pollMs,
    { key: win.id },
  );
  const health = usePoll(async () => (await client.getAny<HealthCheck>('/v1/health')).body, 5000);
  const workers = usePoll(() => client.get<WorkerList>('/v1/workers'), 10_000);
  const queues = usePoll(() => client.get<QueueList>('/v1/queues'), 10_000);

  // A window just chosen shows nothing of the previous one.
  const current = stats.data?.windowId === win.id ? stats.data : undefined;
  const problems = health.data ? problemsFirst(health.data.components).filter((c) => c.status !== 'ok') : [];
  const detectWorkers = workers.data?.workers.filter((w) => !w.stoppedAt && w.state === 'live' && w.queues.includes('detect')) ?? [];
  const detect = queues.data?.queues.find((q) => q.name === 'detect');

  return (
    <Page
      title="Dashboard"
      actions={
        <div className="segmented" role="group" aria-label="window">
          {WINDOWS.map((w) => (
            <button key={w.id} type="button" className={w.id === win.id ? 'on' : ''} aria-pressed={w.id === win.id} onClick={() => setWindowId(w.id)}>
              {w.label}
            </button>
          ))}
        </div>
      }
    >
      <ErrorNote error={stats.error ?? health.error} />
      {health.data && (
        <section className={`problems problems-${health.data.status}`} data-testid="problems">
          <h2>
            Health <StatusBadge status={health.data.status} />
          </h2>
          {problems.length === 0 ? (
            <p className="hint">Every component is ok (probed {when(health.data.at)}).</p>
          ) : (
            <ul>
              {problems.map((c) => (
                <li key={c.name} data-component={c.name} data-status={c.status}>
                  <StatusBadge status={c.status} /> <strong>{c.name}</strong> {formatProbeValue(c.value, c.unit)}
                  {c.threshold !== null && <span className="hint"> (threshold {formatProbeValue(c.threshold, c.unit)})</span>}: {c.message}
                </li>
              ))}
            </ul>
          )}
          {problems.length > 0 && <a href="#/health">All components →</a>}
        </section>
      )}

      <div className="tiles" data-testid="tiles">
        <Tile
          label="detect workers live"
          value={workers.data ? String(detectWorkers.length) : '…'}
          href="#/workers"
          bad={workers.data !== undefined && detectWorkers.length === 0}
        />
        <Tile label="detect jobs waiting now" value={detect ? String((detect.counts.waiting ?? 0) + (detect.counts.prioritized ?? 0)) : '…'} href="#/queues" />
        <Tile label="detect jobs running now" value={detect ? String(detect.counts.active ?? 0) : '…'} href="#/queues" />
        <Tile label={`images done in ${win.words}`} value={current ? String(total(current.stats.series.imagesDone)) : '…'} />
        <Tile
          label={`images failed in ${win.words}`}
          value={current ? String(total(current.stats.series.imagesFailed)) : '…'}
          href="#/failures"
          bad={current !== undefined && total(current.stats.series.imagesFailed) > 0}
        />
        <Tile label={`cache hits in ${win.words}`} value={current ? String(total(current.stats.series.cacheHits)) : '…'} />
      </div>

      {current && (
        <Charts
          stats={current.stats}
          sinceMs={current.sinceMs}
          untilMs={current.untilMs}
          win={win}
          liveDetectWorkers={workers.data ? detectWorkers.length : undefined}
          canUpload={atLeast(me.role, 'submitter')}
        />
      )}
      {!current && !stats.error && <p className="loading">Loading {win.words}…</p>}
    </Page>
  );
}

function Tile({ label, value, href, bad }: { label: string; value: string; href?: string; bad?: boolean }) {
  const body = (
    <>
      <span className="tile-value">{value}</span>
      <span className="tile-label">{label}</span>
    </>
  );
  return (
    <div className={`tile ${bad ? 'tile-bad' : ''}`} data-tile={label}>
      {href ? <a href={href}>{body}</a> : body}
    </div>
  );
}

function Charts({
  stats,
  sinceMs,
  untilMs,
  win,
  liveDetectWorkers,
  canUpload,
}: {
  stats: Stats;
  sinceMs: number;
  untilMs: number;
  win: ChartWindow;
  liveDetectWorkers: number | undefined;
  canUpload: boolean;
}) {
  const { series } = stats;
  const stepMs = stats.step * 1000;
  const bucket = stepWords(stats.step);
  const data = useMemo(() => {
    const align = (s: Array<StatsPoint[] | undefined>, missing: 'zero' | 'gap', factor = 1): AlignedSeries =>
      alignSeries(s, { sinceMs, untilMs, stepMs, missing, factor });
    return {
      // Counts per bucket → per minute.
      throughput: align([series.imagesDone, series.imagesFailed, series.cacheHits], 'zero', 60 / stats.step),
      latency: align([series.latencyP50Ms, series.latencyP95Ms], 'gap'),
      stages: align(
        STAGES.map((s) => series.stageP50Ms?.[s.key]),
        'gap',
      ),
      backlog: align([series.detectWaiting], 'gap'),
    };
  }, [series, sinceMs, untilMs, stepMs, stats.step]);
  const range = { since: sinceMs / 1000, until: untilMs / 1000 };
  const finished = total(series.imagesDone) + total(series.imagesFailed);
  const waited = total(series.detectWaiting) > 0;
  const sampled = series.detectWaiting.some(([, v]) => v !== null);

  if (finished === 0 && !waited) {
    return (
      <div className="empty-state" data-testid="dashboard-empty">
        <h2>Nothing to chart for {win.words}</h2>
        <p>No image finished or waited for a worker in {win.words}, so there are no throughput, latency or backlog charts to draw yet.</p>
        <ul>
          {liveDetectWorkers === 0 && (
            <li>
              <strong>No detect worker is running.</strong> Start one with <code>npx lookout worker --queues detect</code> (or <code>npx lookout all</code>);
              see <a href="#/workers">Workers</a>.
            </li>
          )}
          <li>
            Submit images{' '}
            {canUpload ? (
              <>
                from <a href="#/upload">Upload</a> or{' '}
              </>
            ) : (
              ''
            )}
            with <code>npx lookout submit ./photos --wait</code> (a submitter&apos;s key); the charts fill in as workers finish them.
          </li>
          {win.id !== '7d' && <li>Or choose a longer window above.</li>}
        </ul>
      </div>
    );
  }

  const perMinute = stats.step === 60 ? 'per 1-min bucket' : `averaged over ${bucket} buckets`;
  const throughputLines: ChartLine[] = [
    { label: 'done', color: COLOR.done, area: true },
    { label: 'failed', color: COLOR.failed },
    { label: 'cache hits', color: COLOR.cache, dash: [6, 4] },
  ];
  return (
    <div className="charts" data-testid="charts">
      <TimeChart
        id="throughput"
        title="Images per minute"
        unit="images / min"
        note={`Finished images by outcome, ${perMinute}; cache hits are done images answered from an earlier identical one.`}
        lines={throughputLines}
        data={data.throughput}
        range={range}
        format={(v) => (v === null ? '—' : formatCount(v))}
      />
      <TimeChart
        id="latency"
        title="Latency, queued to finished"
        unit="time per image"
        note={`Median (p50) and p95 per ${bucket} bucket; gaps where no image finished.`}
        lines={[
          { label: 'p50', color: COLOR.p50 },
          { label: 'p95', color: COLOR.p95 },
        ]}
        data={data.latency}
        range={range}
        format={formatDurationMs}
        emptyNote={`No image finished in ${win.words}.`}
      />
      <TimeChart
        id="stages"
        title="Stage medians"
        unit="time per image"
        note={`Median time of each stage of a model run, per ${bucket} bucket (cache hits run none).`}
        lines={STAGES.map((s) => ({ label: s.key, color: s.color }))}
        data={data.stages}
        range={range}
        format={formatDurationMs}
        emptyNote={`No image ran the model in ${win.words}.`}
      />
      <TimeChart
        id="backlog"
        title="Detect backlog"
        unit="jobs waiting"
        note={`Detect jobs waiting for a worker, from the health probes' samples; gaps where no probe ran.`}
        lines={[{ label: 'waiting', color: COLOR.backlog, area: true }]}
        integer
        data={data.backlog}
        range={range}
        format={(v) => (v === null ? '—' : formatCount(v))}
        emptyNote={
          sampled
            ? `No detect job waited in ${win.words}${liveDetectWorkers === 0 ? '' : ': workers kept up'}.`
            : `No health probe ran in ${win.words}: the ops worker (queue health) samples the backlog.`
        }
      />
      <p className="hint charts-footer">
        {plural(finished, 'image')} finished in {win.words}. Times are local ({Intl.DateTimeFormat().resolvedOptions().timeZone}); refreshed every{' '}
        {win.pollMs / 1000} s.
      </p>
    </div>
  );
}
