import { useState, type FormEvent } from 'react';

export function SignIn({ onSignIn, notice }: { onSignIn: (key: string) => Promise<void>; notice?: string | undefined }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await onSignIn(key.trim());
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="sign-in" onSubmit={(e) => void submit(e)}>
      <h1>Lookout</h1>
      <p>Sign in with an API key. It stays in this tab only (session storage).</p>
      {notice && (
        <p className="error" data-testid="notice">
          {notice}
        </p>
      )}
      <label htmlFor="api-key">API key</label>
      <input id="api-key" name="apiKey" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} placeholder="lk_…" required />
      <button type="submit" disabled={busy || key.trim() === ''}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <p className="hint">
        An admin creates keys with <code>npx lookout keys create --name NAME --role submitter</code>.
      </p>
    </form>
  );
}
