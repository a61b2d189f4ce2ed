/** Options of `withRestarts()`. */
export interface RestartPolicy {
  /** Restarts allowed after the first run fails. Default unlimited. */
  restarts?: number
  /** First delay before a restart, in ms, doubled each time up to `maxDelayMs`. Default 100. */
  minDelayMs?: number
  /** Default 10 000 ms. */
  maxDelayMs?: number
  /** Called with each failure that is about to be retried, and the restart number (from 1). */
  onRestart?: (error: unknown, restart: number) => void
}

/**
 * A restart policy for a background task: wraps `fn` so that a failure (a throw or a rejection)
 * runs it again after an exponential backoff, until it returns, the signal aborts, or `restarts`
 * are used up, when the last error is thrown (so `driver.spawn(withRestarts(fn))` reports it as
 * an 'error' event). A normal return ends the task; an abort ends it quietly, also mid-delay.
 */
export function withRestarts(
  fn: (signal: AbortSignal) => Promise<void>,
  policy: RestartPolicy = {},
): (signal: AbortSignal) => Promise<void> {
  const { restarts = Number.POSITIVE_INFINITY, minDelayMs = 100, maxDelayMs = 10_000, onRestart } = policy
  return async (signal) => {
    for (let n = 0; ; n++) {
      try {
        await fn(signal)
        return
      } catch (error) {
        if (signal.aborted) return
        if (n >= restarts) throw error
        onRestart?.(error, n + 1)
        if (!(await pause(Math.min(maxDelayMs, minDelayMs * 2 ** n), signal))) return
      }
    }
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (leaving no timer or listener). */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
