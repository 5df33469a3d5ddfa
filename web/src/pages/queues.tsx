// Queues with their counts; operators pause, resume and retry here, set a
// queue's global concurrency, and open Bull Board for the jobs themselves.
import { useState, type FormEvent } from 'react';
import {
  atLeast,
  type Client,
  type GlobalConcurrencyBody,
  type GlobalConcurrencyResult,
  type Me,
  type QueueAction,
  type QueueControlResult,
  type QueueList,
} from '../api.js';
import { ErrorNote, Page } from '../components/common.js';
import { usePoll } from '../use-poll.js';
import { useAction } from '../use-action.js';

const COLUMNS = ['waiting', 'active', 'delayed', 'waiting-children', 'prioritized', 'failed', 'completed'];

export function QueuesPage({ client, me }: { client: Client; me: Me }) {
  const { data, error, reload } = usePoll(() => client.get<QueueList>('/v1/queues'), 2000);
  const { run, error: actionError } = useAction(reload);
  const operator = atLeast(me.role, 'operator');
  const act = (queue: string, action: Exclude<QueueAction, 'clean'>) =>
    run(() => client.post<QueueControlResult>(`/v1/queues/${encodeURIComponent(queue)}/${action}`));
  return (
    <Page
      title="Queues"
      actions={
        operator && (
          <a className="button" href="/admin/queues" target="_blank" rel="noreferrer">
            Open Bull Board
          </a>
        )
      }
    >
      <ErrorNote error={error ?? actionError} />
      {data && (
        <table className="table" data-testid="queues">
          <thead>
            <tr>
              <th>Queue</th>
              <th>State</th>
              {COLUMNS.map((c) => (
                <th key={c}>{c}</th>
              ))}
              <th title="jobs active at once across all workers; each worker's --concurrency stays its own ceiling">global concurrency</th>
              {operator && <th />}
            </tr>
          </thead>
          <tbody>
            {data.queues.map((q) => (
              <tr key={q.name}>
                <td>{q.name}</td>
                <td>
                  <span className={`badge badge-${q.paused ? 'paused' : 'ok'}`}>{q.paused ? 'paused' : 'running'}</span>
                </td>
                {COLUMNS.map((c) => (
                  <td key={c}>{q.counts[c] ?? 0}</td>
                ))}
                <td data-testid="global-concurrency">
                  {operator ? (
                    <ConcurrencyForm
                      current={q.globalConcurrency}
                      set={(concurrency) =>
                        run(() =>
                          client.put<GlobalConcurrencyResult>(`/v1/queues/${encodeURIComponent(q.name)}/concurrency`, {
                            concurrency,
                          } satisfies GlobalConcurrencyBody),
                        )
                      }
                    />
                  ) : (
                    (q.globalConcurrency ?? '—')
                  )}
                </td>
                {operator && (
                  <td className="row-actions">
                    <button type="button" onClick={() => void act(q.name, q.paused ? 'resume' : 'pause')}>
                      {q.paused ? 'Resume' : 'Pause'}
                    </button>
                    <button type="button" disabled={!q.counts.failed} onClick={() => void act(q.name, 'retry-failed')}>
                      Retry failed
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {operator && <p className="hint">Bull Board asks for the API key as the password (any user name).</p>}
    </Page>
  );
}

/** The limit shown, a number input (empty: no limit) and Set; the server checks the value (400 shown as the page's error). */
function ConcurrencyForm({ current, set }: { current: number | null; set: (concurrency: number | null) => Promise<void> }) {
  const [value, setValue] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await set(value.trim() === '' ? null : Number(value));
    setValue('');
  };
  return (
    <form className="inline" onSubmit={(e) => void submit(e)}>
      <span data-testid="global-concurrency-value">{current ?? '—'}</span>
      <input
        type="number"
        min={1}
        step={1}
        size={5}
        className="narrow-number"
        placeholder={current === null ? 'off' : String(current)}
        aria-label="global concurrency"
        value={value}
        onChange={(e) => setValue(e.target.value)}
      />
      <button type="submit" title="empty: remove the limit">
        Set
      </button>
    </form>
  );
}
