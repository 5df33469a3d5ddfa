import type { Client } from '../api.js';
import { ErrorNote, Page, StatusBadge, when } from '../components/common.js';
import { usePoll } from '../use-poll.js';

interface Health {
  at: string;
  status: 'ok' | 'warn' | 'critical';
  components: Array<{ name: string; status: string; value: number | string | null; threshold: number | string | null; unit?: string; message: string }>;
}

export function HealthPage({ client }: { client: Client }) {
  const { data, error } = usePoll(async () => (await client.getAny<Health>('/v1/health')).body, 5000);
  return (
    <Page title={<>Health {data && <StatusBadge status={data.status} />}</>}>
      <ErrorNote error={error} />
      {data && (
        <>
          <p className="hint">Probed {when(data.at)}; refreshed every 5 s.</p>
          <table className="table" data-testid="health">
            <thead>
              <tr>
                <th>Component</th>
                <th>Status</th>
                <th>Value</th>
                <th>Threshold</th>
                <th>Message</th>
              </tr>
            </thead>
            <tbody>
              {data.components.map((c) => (
                <tr key={c.name}>
                  <td>{c.name}</td>
                  <td>
                    <StatusBadge status={c.status} />
                  </td>
                  <td>
                    {c.value ?? '—'} {c.unit ?? ''}
                  </td>
                  <td>{c.threshold ?? '—'}</td>
                  <td>{c.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Page>
  );
}
