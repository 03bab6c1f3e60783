/**
 * The phases a compute task's time is split into (compute/phase-clock.ts
 * measures them; round summaries and the report sum them). Process start is
 * measured by the parent: forking the child and loading its modules.
 */
export const taskPhases = [
  'processStart',
  'backendInit',
  'modelBuild',
  'dataRead',
  'checkpointRead',
  'compute',
  'write',
] as const;
export type TaskPhase = (typeof taskPhases)[number];

/** Seconds per phase; absent phases took no time. */
export type PhaseSeconds = Partial<Record<TaskPhase, number>>;

/** Sums phase records (e.g. all of a round's activities); a value that is not a finite number is ignored. */
export function addPhaseSeconds(total: PhaseSeconds, more: PhaseSeconds | undefined): PhaseSeconds {
  if (!more) return total;
  const out: PhaseSeconds = { ...total };
  for (const phase of taskPhases) {
    const s = more[phase];
    if (typeof s === 'number' && Number.isFinite(s)) out[phase] = (out[phase] ?? 0) + s;
  }
  return out;
}
