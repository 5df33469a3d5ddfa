// Polls a loader every `everyMs` while `active`; keeps the last good value and
// the last error apart, so a blip does not blank the page.
import { useCallback, useEffect, useRef, useState } from 'react';

export function usePoll<T>(load: () => Promise<T>, everyMs: number, active = true): { data: T | undefined; error: Error | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const run = async () => {
      try {
        const value = await loadRef.current();
        if (stopped) return;
        setData(value);
        setError(undefined);
      } catch (err) {
        if (!stopped) setError(err instanceof Error ? err : new Error(String(err)));
      }
      if (!stopped && active) timer = window.setTimeout(() => void run(), everyMs);
    };
    void run();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [everyMs, active, tick]);

  return { data, error, reload };
}
