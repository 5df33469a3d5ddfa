import type { Client, WorkerList } from '../api.js';
import { ErrorNote, Page, when } from '../components/common.js';
import { usePoll } from '../use-poll.js';

export function WorkersPage({ client }: { client: Client }) {
  const { data, error } = usePoll(() => client.get<WorkerList>('/v1/workers'), 3000);
  return (
    <Page title="Workers">
      <ErrorNote error={error} />
      {data?.workers.length === 0 && <p className="empty">No live workers, and none stopped or missing recently (WORKER_HISTORY_HOURS).</p>}
      {data && data.workers.length > 0 && (
        <table className="table" data-testid="workers">
          <thead>
            <tr>
              <th>State</th>
              <th>Host / pid</th>
              <th>Queues</th>
              <th>Device</th>
              <th>Concurrency</th>
              <th>Done / failed</th>
              <th>Now</th>
              <th>Last seen</th>
            </tr>
          </thead>
          <tbody>
            {data.workers.map((w) => (
              <tr key={w.id}>
                <td>
                  <span className={`badge badge-${w.stoppedAt ? 'stopped' : w.state}`}>{w.stoppedAt ? 'stopped' : w.state}</span>
                </td>
                <td>
                  {w.host} / {w.pid}
                </td>
                <td>{w.queues.join(', ')}</td>
                <td>{w.device ?? '—'}</td>
                <td>{w.concurrency}</td>
                <td>
                  {w.jobsDone} / {w.jobsFailed}
                </td>
                <td>{w.currentJobs.length === 0 ? 'idle' : w.currentJobs.map((j) => `${j.queue}:${j.name}`).join(', ')}</td>
                <td>{when(w.lastSeen)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
