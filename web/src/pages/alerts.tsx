import { useState } from 'react';
import { atLeast, type AlertList, type AlertStatus, type Client, type Me, type SilenceBody, type SilencedAlert } from '../api.js';
import { ErrorNote, Page, StatusBadge, when } from '../components/common.js';
import { usePoll } from '../use-poll.js';
import { useAction } from '../use-action.js';

/** The filter's choices, the ones that need attention first; checked against the API's list. */
const FILTERS = ['firing', 'pending', 'resolved'] as const satisfies readonly AlertStatus[];

export function AlertsPage({ client, me }: { client: Client; me: Me }) {
  const [status, setStatus] = useState<AlertStatus | ''>('');
  const path = `/v1/alerts${status ? `?status=${status}` : ''}`;
  const { data, error, reload } = usePoll(() => client.get<AlertList>(path), 5000, { key: path });
  const { run, error: actionError } = useAction(reload);
  const silence = (id: string) => run(() => client.post<SilencedAlert>(`/v1/alerts/${id}/silence`, { minutes: 60 } satisfies SilenceBody));
  const operator = atLeast(me.role, 'operator');
  return (
    <Page
      title="Alerts"
      actions={
        <select value={status} onChange={(e) => setStatus(e.target.value as AlertStatus | '')}>
          <option value="">all</option>
          {FILTERS.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      }
    >
      <ErrorNote error={error ?? actionError} />
      {data?.alerts.length === 0 && <p className="empty">No alerts.</p>}
      {data && data.alerts.length > 0 && (
        <table className="table" data-testid="alerts">
          <thead>
            <tr>
              <th>Status</th>
              <th>Severity</th>
              <th>Rule</th>
              <th>Message</th>
              <th>Since</th>
              <th>Notified</th>
              {operator && <th />}
            </tr>
          </thead>
          <tbody>
            {data.alerts.map((a) => (
              <tr key={a.id}>
                <td>
                  <StatusBadge status={a.status} />
                </td>
                <td>{a.severity}</td>
                <td>
                  {a.rule} <span className="hint">{a.key}</span>
                </td>
                <td>{a.message}</td>
                <td>{when(a.firedAt ?? a.pendingSince)}</td>
                <td>{a.notifications}</td>
                {operator && (
                  <td>
                    {a.status !== 'resolved' &&
                      (a.silencedUntil && new Date(a.silencedUntil) > new Date() ? (
                        <span className="hint">silenced until {when(a.silencedUntil)}</span>
                      ) : (
                        <button type="button" onClick={() => void silence(a.id)}>
                          Silence 1 h
                        </button>
                      ))}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
