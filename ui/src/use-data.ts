/**
 * Loads data through the API, optionally polling every `pollMs`; keeps the last good value while a reload runs.
 * Changing `deps` loads afresh; changing `pollMs` only changes the pace.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { errorText } from './api.ts';

export interface Data<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => Promise<void>;
}

export function useData<T>(load: () => Promise<T>, deps: readonly unknown[], pollMs?: number): Data<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const generation = useRef(0);

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const value = await loadRef.current();
      if (mine !== generation.current) return;
      setData(value);
      setError(undefined);
    } catch (e) {
      if (mine === generation.current) setError(errorText(e));
    }
  }, []);

  useEffect(
    () => {
      setData(undefined);
      void reload();
    },
    // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's deps decide when to load again
    deps,
  );

  // Apart from loading, so a page can poll faster while something runs without blanking what it shows.
  useEffect(() => {
    if (!pollMs) return;
    const timer = setInterval(() => void reload(), pollMs);
    return () => clearInterval(timer);
  }, [pollMs, reload]);

  return { data, error, reload };
}
