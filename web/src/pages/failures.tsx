// Failed images across every batch, newest first (GET /v1/images?status=failed):
// why each failed, filtered by error code, file name, model and time, a page
// at a time ("Load more" follows the answer's cursor). Operators select rows
// and retry them in place (POST /v1/images/retry), and are told what happened.
import { useCallback, useEffect, useRef, useState } from 'react';
import {
  atLeast,
  type Client,
  type ImageList,
  type ImageListItem,
  type Info,
  type Me,
  type RetryImagesBody,
  type RetryImagesResult,
  type RetrySkipReason,
} from '../api.js';
import { ErrorNote, Page, when } from '../components/common.js';
import { usePoll } from '../use-poll.js';
import { plural } from '../../../src/text/format.js';

const PAGE = 50;

const SINCE: Array<{ id: string; label: string; ms: number | null }> = [
  { id: 'any', label: 'any time', ms: null },
  { id: '1h', label: 'last hour', ms: 3_600_000 },
  { id: '24h', label: 'last 24 h', ms: 86_400_000 },
  { id: '7d', label: 'last 7 days', ms: 7 * 86_400_000 },
  { id: '30d', label: 'last 30 days', ms: 30 * 86_400_000 },
];

// Codes an image fails with (the engine's and the worker's); the field takes any other too.
const KNOWN_CODES = [
  'corrupt_image',
  'unsupported_format',
  'too_many_pixels',
  'too_large',
  'empty_input',
  'read_failed',
  'blob_missing',
  'detection_failed',
  'inference_failed',
  'model_unavailable',
];

interface Filters {
  error: string;
  q: string;
  model: string;
  since: string;
}

/** The query of one page of failed images for `filters`, after `cursor`. */
function queryFor(filters: Filters, cursor?: string): string {
  const q = new URLSearchParams({ status: 'failed', limit: String(PAGE) });
  if (filters.error.trim()) q.set('error', filters.error.trim());
  if (filters.q.trim()) q.set('q', filters.q.trim());
  if (filters.model) q.set('model', filters.model);
  const ms = SINCE.find((s) => s.id === filters.since)?.ms;
  if (ms) q.set('since', new Date(Date.now() - ms).toISOString());
  if (cursor) q.set('cursor', cursor);
  return `/v1/images?${q}`;
}

// Why an image was not retried, for people (RETRY_SKIP_REASONS).
const SKIPPED: Record<RetrySkipReason, string> = {
  not_found: 'gone',
  not_failed: 'no longer failed',
  batch_unfinished: 'its batch is still running: retry once it has finished',
  job_live: 'already on the queue',
  queue_unavailable: 'the queue did not answer',
};

/** What POST /v1/images/retry answered, in a sentence: how many went back on the queue, and why the others did not. */
function retriedSentence(result: RetryImagesResult): string {
  const { retried, skipped } = result;
  const batches = new Set(retried.map((r) => r.batchId)).size;
  const parts: string[] = [];
  if (retried.length > 0)
    parts.push(
      `${plural(retried.length, 'image')} queued again, in ${plural(batches, 'batch', 'batches')}; they leave this list while they run (Refresh to see any that fail again).`,
    );
  const reasons = new Map<string, number>();
  for (const s of skipped) reasons.set(SKIPPED[s.reason] ?? s.reason, (reasons.get(SKIPPED[s.reason] ?? s.reason) ?? 0) + 1);
  if (skipped.length > 0) parts.push(`Not retried: ${[...reasons].map(([why, n]) => `${plural(n, 'image')} (${why})`).join(', ')}.`);
  return parts.join(' ') || 'Nothing to retry.';
}

export function FailuresPage({ client, me }: { client: Client; me: Me }) {
  const operator = atLeast(me.role, 'operator');
  const [filters, setFilters] = useState<Filters>({ error: '', q: '', model: '', since: 'any' });
  // The file name is typed: it applies 300 ms after the last key.
  const [typed, setTyped] = useState('');
  useEffect(() => {
    const t = window.setTimeout(() => setFilters((f) => (f.q === typed ? f : { ...f, q: typed })), 300);
    return () => window.clearTimeout(t);
  }, [typed]);

  const [rows, setRows] = useState<ImageListItem[]>();
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<Error>();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState<string>();
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  // The filters the rows shown answer; until the list for new ones has come, it is dimmed and cannot be paged.
  const [shownFor, setShownFor] = useState<Filters>();
  // Only the latest request's answer is shown (a slow answer to an older filter is dropped).
  const latest = useRef(0);

  const load = useCallback(
    async (cursor?: string) => {
      const request = ++latest.current;
      setLoading(true);
      setError(undefined);
      try {
        const page = await client.get<ImageList>(queryFor(filters, cursor));
        if (request !== latest.current) return;
        setRows((old) => (cursor ? [...(old ?? []), ...page.images] : page.images));
        setNext(page.next ?? null);
        setShownFor(filters);
      } catch (err) {
        if (request === latest.current) setError(err instanceof Error ? err : new Error(String(err)));
      } finally {
        if (request === latest.current) setLoading(false);
      }
    },
    [client, filters],
  );
  useEffect(() => {
    setSelected(new Set());
    void load();
  }, [load, tick]);

  const { data: info } = usePoll(() => client.get<Info>('/v1/info'), 60_000);
  const codes = [...new Set([...KNOWN_CODES, ...(rows ?? []).flatMap((r) => (r.error ? [r.error.code] : []))])].sort();
  const current = shownFor === filters && typed === filters.q;
  const filtered = filters.error !== '' || filters.q !== '' || filters.model !== '' || filters.since !== 'any';

  const toggle = (id: string) =>
    setSelected((s) => {
      const copy = new Set(s);
      if (copy.has(id)) copy.delete(id);
      else copy.add(id);
      return copy;
    });
  const allSelected = rows !== undefined && rows.length > 0 && rows.every((r) => selected.has(r.id));
  const retry = async () => {
    const ids = [...selected];
    setMessage(undefined);
    setError(undefined);
    try {
      const body: RetryImagesBody = { ids };
      setMessage(retriedSentence(await client.post<RetryImagesResult>('/v1/images/retry', body)));
      refresh();
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    }
  };

  return (
    <Page
      title="Failures"
      actions={
        <button type="button" className="link" onClick={refresh}>
          Refresh
        </button>
      }
    >
      <p className="hint">Images that failed, across every batch, newest first. Open one to see it, or its batch.</p>
      <form className="form-row filters" data-testid="filters" onSubmit={(e) => e.preventDefault()}>
        <label className="inline">
          Error code
          <input
            list="error-codes"
            name="error"
            placeholder="any"
            value={filters.error}
            onChange={(e) => setFilters((f) => ({ ...f, error: e.target.value }))}
            className="narrow-text"
          />
          <datalist id="error-codes">
            {codes.map((c) => (
              <option key={c} value={c} />
            ))}
          </datalist>
        </label>
        <label className="inline">
          File name
          <input name="q" type="search" placeholder="part of the name" value={typed} onChange={(e) => setTyped(e.target.value)} />
        </label>
        <label className="inline">
          Model
          <select name="model" value={filters.model} onChange={(e) => setFilters((f) => ({ ...f, model: e.target.value }))}>
            <option value="">any</option>
            {info?.models.map((m) => (
              <option key={m.name} value={m.name}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Failed
          <select name="since" value={filters.since} onChange={(e) => setFilters((f) => ({ ...f, since: e.target.value }))}>
            {SINCE.map((s) => (
              <option key={s.id} value={s.id}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        {filtered && (
          <button
            type="button"
            className="link"
            onClick={() => {
              setTyped('');
              setFilters({ error: '', q: '', model: '', since: 'any' });
            }}
          >
            Clear filters
          </button>
        )}
      </form>
      <ErrorNote error={error} />
      {message && (
        <p className="notice" data-testid="retry-result" role="status">
          {message}
        </p>
      )}
      {operator && rows && rows.length > 0 && (
        <div className="form-row">
          <button type="button" data-testid="retry" disabled={selected.size === 0} onClick={() => void retry()}>
            Retry {selected.size === 0 ? 'selected' : plural(selected.size, 'image')}
          </button>
          <span className="hint">Runs the selected images again in place, in their own batches (audited).</span>
        </div>
      )}
      {rows && rows.length === 0 && (
        <p className="empty" data-testid="no-failures">
          {filtered ? 'No failed image matches these filters.' : 'No image has failed.'}
        </p>
      )}
      {rows && rows.length > 0 && (
        <table className={`table ${current ? '' : 'stale'}`} data-testid="failures">
          <thead>
            <tr>
              {operator && (
                <th>
                  <input
                    type="checkbox"
                    aria-label="select every row shown"
                    checked={allSelected}
                    onChange={() => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.id)))}
                  />
                </th>
              )}
              <th>Failed</th>
              <th>File</th>
              <th>Error</th>
              <th>Why</th>
              <th>Model</th>
              <th>Batch</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-image-id={r.id} data-filename={r.filename}>
                {operator && (
                  <td>
                    <input type="checkbox" aria-label={`select ${r.filename}`} checked={selected.has(r.id)} onChange={() => toggle(r.id)} />
                  </td>
                )}
                <td className="nowrap">{when(r.finishedAt)}</td>
                <td className="filename-cell">
                  <a href={`#/batches/${r.batchId}/images/${r.id}`} title={r.filename}>
                    {r.filename}
                  </a>
                </td>
                <td>
                  <code className="error-code" data-testid="error-code">
                    {r.error?.code ?? '—'}
                  </code>
                </td>
                <td className="why">{r.error?.message ?? ''}</td>
                <td>{r.model}</td>
                <td>
                  <a href={`#/batches/${r.batchId}`}>
                    <code>{r.batchId.slice(0, 8)}</code>
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        {rows && <span className="hint">{plural(rows.length, 'failed image')} shown</span>}
        {next && (
          <button type="button" className="link" data-testid="load-more" disabled={loading || !current} onClick={() => void load(next)}>
            Load more
          </button>
        )}
        {loading && <span className="loading">Loading…</span>}
      </div>
    </Page>
  );
}
