/**
 * How long a training task may take to save its position when its activity is
 * cancelled (worker shutdown, heartbeat timeout, search cancelled), from
 * WINNOW_SHUTDOWN_GRACE_SECONDS (default 30). A batch must finish and a
 * checkpoint be written within it; the worker's force-shutdown time is set
 * beyond it.
 */
export const defaultShutdownGraceSeconds = 30;

export function shutdownGraceMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.WINNOW_SHUTDOWN_GRACE_SECONDS;
  if (raw === undefined || raw === '') return defaultShutdownGraceSeconds * 1000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error(`WINNOW_SHUTDOWN_GRACE_SECONDS=${raw} must be a number of seconds >= 0 (0 kills training at once)`);
  }
  return seconds * 1000;
}
