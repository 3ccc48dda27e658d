/**
 * One timer per process and period, shared by every runtime in it: each runtime's monitors
 * register their flush here instead of arming an interval of their own, so a process that
 * opens many runtimes (tests, an episode per runtime, a server per tenant) wakes once per
 * period, not once per runtime. Unref'd: it never keeps the process alive.
 */

const tickers = new Map<number, { timer: ReturnType<typeof setInterval>; jobs: Set<() => void> }>();

/** Call `job` every `ms` on the process's shared timer for that period; returns what stops it. */
export function every(ms: number, job: () => void): () => void {
  let t = tickers.get(ms);
  if (!t) {
    const jobs = new Set<() => void>();
    const timer = setInterval(() => {
      // A job that throws must not stop the others.
      for (const j of [...jobs])
        try {
          j();
        } catch {
          /* the job reports its own errors (a flush catches and reports through onError) */
        }
    }, ms);
    timer.unref();
    tickers.set(ms, (t = { timer, jobs }));
  }
  const wrapped = () => job();
  t.jobs.add(wrapped);
  return () => {
    const now = tickers.get(ms);
    if (!now || !now.jobs.delete(wrapped) || now.jobs.size > 0) return;
    clearInterval(now.timer);
    tickers.delete(ms);
  };
}

/** How many shared timers are armed now (for tests). */
export const armedTickers = () => tickers.size;
