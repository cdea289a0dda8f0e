/**
 * Calls `fn` at once for the first value, then at most once per `ms` with the latest value
 * (a trailing call flushes the last one), so a 10 000-step sampler writes a few lines a second.
 */
export function throttle<T>(ms: number, fn: (value: T) => void): { push(value: T): void; flush(): void; cancel(): void } {
  let last = Number.NEGATIVE_INFINITY; // the first value passes at once, whatever the clock says
  let pending: { value: T } | null = null;
  let timer: NodeJS.Timeout | null = null;
  const fire = () => {
    timer = null;
    if (!pending) return;
    const { value } = pending;
    pending = null;
    last = Date.now();
    fn(value);
  };
  return {
    push(value) {
      pending = { value };
      const wait = last + ms - Date.now();
      if (wait <= 0) fire();
      else timer ??= setTimeout(fire, wait);
    },
    flush() {
      if (timer) clearTimeout(timer);
      fire();
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
      pending = null;
    },
  };
}
