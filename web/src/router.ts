// Hash routes (#/batches/ID): the API serves one static page, nothing to rewrite.
// No hash (a fresh sign-in at /) is the dashboard, and the address says so
// (#/dashboard, replacing /: Back does not return to an empty hash).
import { useEffect, useState } from 'react';

const DEFAULT_PATH = '/dashboard';

export function useHashPath(): string {
  const [path, setPath] = useState(() => window.location.hash.replace(/^#/, '') || DEFAULT_PATH);
  useEffect(() => {
    if (!window.location.hash.replace(/^#/, '')) window.history.replaceState(null, '', `#${DEFAULT_PATH}`);
    const onChange = () => setPath(window.location.hash.replace(/^#/, '') || DEFAULT_PATH);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return path;
}

export const navigate = (path: string) => {
  window.location.hash = path;
};

/** Matches "/batches/:id" against a path; returns the params or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/');
  const s = path.split('?')[0]!.split('/');
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(':')) params[p[i]!.slice(1)] = decodeURIComponent(s[i]!);
    else if (p[i] !== s[i]) return null;
  }
  return params;
}
