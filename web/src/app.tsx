// The console shell: sign-in, the navigation (only what the key's role may
// use), and the hash routes.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, atLeast, Client, type Me, type Role } from './api.js';
import { forgetKey, loadKey, saveKey } from './session.js';
import { match, useHashPath } from './router.js';
import { SignIn } from './pages/sign-in.js';
import { BatchesPage } from './pages/batches.js';
import { BatchPage } from './pages/batch.js';
import { ImagePage } from './pages/image.js';
import { UploadPage } from './pages/upload.js';
import { WorkersPage } from './pages/workers.js';
import { QueuesPage } from './pages/queues.js';
import { HealthPage } from './pages/health.js';
import { AlertsPage } from './pages/alerts.js';
import { BackupsPage } from './pages/backups.js';
import { KeysPage } from './pages/keys.js';
import { DashboardPage } from './pages/dashboard.js';
import { FailuresPage } from './pages/failures.js';

interface NavItem {
  path: string;
  label: string;
  role: Role;
}

const NAV: NavItem[] = [
  { path: '/dashboard', label: 'Dashboard', role: 'viewer' },
  { path: '/batches', label: 'Batches', role: 'viewer' },
  { path: '/failures', label: 'Failures', role: 'viewer' },
  { path: '/upload', label: 'Upload', role: 'submitter' },
  { path: '/workers', label: 'Workers', role: 'viewer' },
  { path: '/queues', label: 'Queues', role: 'viewer' },
  { path: '/health', label: 'Health', role: 'viewer' },
  { path: '/alerts', label: 'Alerts', role: 'viewer' },
  { path: '/backups', label: 'Backups', role: 'operator' },
  { path: '/keys', label: 'Keys', role: 'admin' },
];

export function App() {
  const [session, setSession] = useState<{ client: Client; me: Me } | null>(null);
  const [notice, setNotice] = useState<string>();
  const [checking, setChecking] = useState(() => loadKey() !== null);
  const path = useHashPath();

  const signIn = useCallback(async (key: string) => {
    let signedIn = false;
    const client = new Client(key, () => {
      // The key stopped working (revoked, expired): back to the sign-in form, saying so.
      if (!signedIn) return;
      forgetKey();
      setSession(null);
      setNotice('The server no longer accepts this key (revoked or expired). Sign in with another.');
    });
    const me = await client.get<Me>('/v1/me');
    signedIn = true;
    saveKey(key);
    setNotice(undefined);
    setSession({ client, me });
  }, []);

  const signOut = useCallback(() => {
    forgetKey();
    setSession(null);
  }, []);

  useEffect(() => {
    const key = loadKey();
    if (!key) return;
    signIn(key)
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) forgetKey();
      })
      .finally(() => setChecking(false));
  }, [signIn]);

  if (checking) return <p className="loading">Signing in…</p>;
  if (!session) return <SignIn onSignIn={signIn} notice={notice} />;
  return <Shell client={session.client} me={session.me} path={path} onSignOut={signOut} />;
}

function Shell({ client, me, path, onSignOut }: { client: Client; me: Me; path: string; onSignOut: () => void }) {
  const nav = useMemo(() => NAV.filter((n) => atLeast(me.role, n.role)), [me.role]);
  const section = '/' + (path.split('/')[1] ?? '');
  const sectionLabel = NAV.find((n) => n.path === section)?.label;
  useEffect(() => {
    document.title = sectionLabel ? `${sectionLabel} · Lookout` : 'Lookout';
  }, [sectionLabel]);
  return (
    <div className="shell">
      <nav className="nav">
        <a className="brand" href="#/dashboard">
          Lookout
        </a>
        {nav.map((n) => (
          <a key={n.path} href={`#${n.path}`} className={section === n.path ? 'active' : ''}>
            {n.label}
          </a>
        ))}
        <a href="/docs" target="_blank" rel="noreferrer">
          API docs
        </a>
        <span className="spacer" />
        <span className="who" data-testid="who">
          {me.name} · <strong>{me.role}</strong>
        </span>
        <button type="button" className="link" onClick={onSignOut}>
          Sign out
        </button>
      </nav>
      <main>
        <Route client={client} me={me} path={path} />
      </main>
    </div>
  );
}

function Route({ client, me, path }: { client: Client; me: Me; path: string }) {
  let params: Record<string, string> | null;
  if ((params = match('/batches/:id/images/:imageId', path)))
    return <ImagePage key={params.id} client={client} batchId={params.id!} imageId={params.imageId!} />;
  if ((params = match('/batches/:id', path))) return <BatchPage key={params.id} client={client} me={me} batchId={params.id!} />;
  if (match('/dashboard', path)) return <DashboardPage client={client} me={me} />;
  if (match('/batches', path)) return <BatchesPage client={client} me={me} />;
  if (match('/failures', path)) return <FailuresPage client={client} me={me} />;
  if (match('/upload', path) && atLeast(me.role, 'submitter')) return <UploadPage client={client} />;
  if (match('/workers', path)) return <WorkersPage client={client} />;
  if (match('/queues', path)) return <QueuesPage client={client} me={me} />;
  if (match('/health', path)) return <HealthPage client={client} />;
  if (match('/alerts', path)) return <AlertsPage client={client} me={me} />;
  if (match('/backups', path) && atLeast(me.role, 'operator')) return <BackupsPage client={client} />;
  if (match('/keys', path) && atLeast(me.role, 'admin')) return <KeysPage client={client} />;
  return (
    <p className="error">
      Nothing here for your role ({me.role}). <a href="#/dashboard">Back to the dashboard</a>
    </p>
  );
}
