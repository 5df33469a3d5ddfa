import { formatBytes, type BackupList, type BackupStarted, type Client, type Info } from '../api.js';
import { ErrorNote, Page, StatusBadge, when } from '../components/common.js';
import { usePoll } from '../use-poll.js';
import { useAction } from '../use-action.js';

export function BackupsPage({ client }: { client: Client }) {
  const { data, error, reload } = usePoll(() => client.get<BackupList>('/v1/backups'), 3000);
  // Whether the server can back up at all: read once.
  const { data: info } = usePoll(() => client.get<Info>('/v1/info'), 60_000, { done: () => true });
  const { run, error: actionError } = useAction(reload);
  const act = (path: string) => run(() => client.post<BackupStarted>(path));
  const off = info && !info.backups.enabled;
  return (
    <Page
      title="Backups"
      actions={
        info?.backups.enabled && (
          <button type="button" onClick={() => void act('/v1/backups')}>
            Back up now
          </button>
        )
      }
    >
      {off && (
        <p className="warning" role="status" data-testid="backups-off">
          Back up now and Verify are hidden because {info.backups.reason}.
        </p>
      )}
      <ErrorNote error={error ?? actionError} />
      {data?.backups.length === 0 && <p className="empty">No backups yet.</p>}
      {data && data.backups.length > 0 && (
        <table className="table" data-testid="backups">
          <thead>
            <tr>
              <th>Started</th>
              <th>Status</th>
              <th>Trigger</th>
              <th>Size</th>
              <th>Verified</th>
              <th>File / error</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.backups.map((b) => (
              <tr key={b.id}>
                <td>{when(b.createdAt)}</td>
                <td>
                  <StatusBadge status={b.status} />
                </td>
                <td>{b.trigger}</td>
                <td>{b.bytes === null ? '—' : formatBytes(b.bytes)}</td>
                <td>{when(b.verifiedAt)}</td>
                <td>{b.error ? <span className="error">{b.error}</span> : <code>{b.file ?? '—'}</code>}</td>
                <td>
                  {b.file && info?.backups.enabled && (
                    <button type="button" onClick={() => void act(`/v1/backups/${b.id}/verify`)}>
                      Verify
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="hint">Restores run from the command line: npx lookout backup restore ID --target-database NAME.</p>
    </Page>
  );
}
