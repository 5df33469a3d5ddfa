// API keys (admin): list, create (the secret is shown once), revoke.
import { useState, type FormEvent } from 'react';
import { ROLES, type Client, type CreatedKey, type KeyList, type NewKey, type RevokedKey, type Role } from '../api.js';
import { ErrorNote, Page, when } from '../components/common.js';
import { usePoll } from '../use-poll.js';
import { useAction } from '../use-action.js';

/** The role picker's order: least to most. */
const PICKABLE_ROLES = [...ROLES].reverse();

export function KeysPage({ client }: { client: Client }) {
  const { data, error, reload } = usePoll(() => client.get<KeyList>('/v1/keys'), 10_000);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('submitter');
  const [created, setCreated] = useState<string>();
  const { run, error: actionError } = useAction(reload);

  const create = (e: FormEvent) => {
    e.preventDefault();
    return run(async () => {
      const res = await client.post<CreatedKey>('/v1/keys', { name, role } satisfies NewKey);
      setCreated(res.key);
      setName('');
    });
  };
  const revoke = async (id: string) => {
    if (!window.confirm(`Revoke key ${id}? Clients using it stop working at once.`)) return;
    await run(() => client.del<RevokedKey>(`/v1/keys/${id}`));
  };
  return (
    <Page title="API keys">
      <form className="form-row" onSubmit={(e) => void create(e)}>
        <input placeholder="name (who or what it is for)" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {PICKABLE_ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <button type="submit">Create key</button>
      </form>
      {created && (
        <p className="notice">
          New key (shown once): <code>{created}</code>
        </p>
      )}
      <ErrorNote error={error ?? actionError} />
      {data && (
        <table className="table" data-testid="keys">
          <thead>
            <tr>
              <th>Id</th>
              <th>Name</th>
              <th>Role</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Expires</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.keys.map((k) => (
              <tr key={k.id} className={k.revokedAt ? 'revoked' : ''}>
                <td>
                  <code>{k.id}</code>
                </td>
                <td>{k.name}</td>
                <td>{k.role}</td>
                <td>{when(k.createdAt)}</td>
                <td>{when(k.lastUsedAt)}</td>
                <td>{when(k.expiresAt)}</td>
                <td>
                  {k.revokedAt ? (
                    `revoked ${when(k.revokedAt)}`
                  ) : (
                    <button type="button" onClick={() => void revoke(k.id)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
