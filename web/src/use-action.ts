// A button's action: runs it, reloads the page's data after, and keeps the
// last failure to show (cleared by the next try).
import { useCallback, useState } from 'react';

export function useAction(after: () => void): { run: (action: () => Promise<unknown>) => Promise<void>; error: Error | undefined } {
  const [error, setError] = useState<Error>();
  const run = useCallback(
    async (action: () => Promise<unknown>) => {
      setError(undefined);
      try {
        await action();
        after();
      } catch (err) {
        setError(err instanceof Error ? err : new Error(String(err)));
      }
    },
    [after],
  );
  return { run, error };
}
