// Polls a loader every `everyMs` until `done(value)` says the value is final;
// keeps the last good value and the last error apart, so a blip does not
// blank the page. reload() loads again now (and polls again if it had
// stopped), as does a change of `key` (what the loader asks for: a filter).
import { useCallback, useEffect, useRef, useState } from 'react';

export function usePoll<T>(
  load: () => Promise<T>,
  everyMs: number,
  options: { done?: (value: T) => boolean; key?: string } = {},
): { data: T | undefined; error: Error | undefined; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const doneRef = useRef(options.done ?? (() => false));
  doneRef.current = options.done ?? (() => false);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const run = async () => {
      let final = false;
      try {
        const value = await loadRef.current();
        if (stopped) return;
        setData(value);
        setError(undefined);
        final = doneRef.current(value);
      } catch (err) {
        if (!stopped) setError(err instanceof Error ? err : new Error(String(err)));
      }
      if (!stopped && !final) timer = window.setTimeout(() => void run(), everyMs);
    };
    void run();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [everyMs, tick, options.key]);

  return { data, error, reload };
}
