import type { Client, HealthCheck as Health } from '../api.js';
import { ErrorNote, Page, StatusBadge, when } from '../components/common.js';
import { usePoll } from '../use-poll.js';
import { formatProbeValue, problemsFirst } from '../../../src/text/health-view.js';

export function HealthPage({ client }: { client: Client }) {
  const { data, error } = usePoll(async () => (await client.getAny<Health>('/v1/health')).body, 5000);
  // Problems first (critical, then warn), values in their units.
  const components = data ? problemsFirst(data.components) : [];
  const problems = components.filter((c) => c.status !== 'ok').length;
  return (
    <Page title={<>Health {data && <StatusBadge status={data.status} />}</>}>
      <ErrorNote error={error} />
      {data && (
        <>
          <p className="hint">
            {problems === 0 ? 'Every component is ok' : `${problems} of ${components.length} components ${problems === 1 ? 'needs' : 'need'} attention`}. Probed{' '}
            {when(data.at)}; refreshed every 5 s.
          </p>
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
              {components.map((c) => (
                <tr key={c.name} data-component={c.name} data-status={c.status}>
                  <td>{c.name}</td>
                  <td>
                    <StatusBadge status={c.status} />
                  </td>
                  <td className="nowrap" data-testid="value">
                    {formatProbeValue(c.value, c.unit)}
                  </td>
                  <td className="nowrap">{formatProbeValue(c.threshold, c.unit)}</td>
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
