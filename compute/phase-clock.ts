/**
 * Where a compute task's time goes: seconds per phase (backend init, model
 * build, data read, checkpoint read, compute, write), summed over the task.
 * The parent adds process start. Results carry the totals so benches and the
 * report can show them; a few numbers, never per-batch detail.
 */

import { taskPhases, type TaskPhase } from '../contracts/task-phases';

export { taskPhases, type TaskPhase };

/** Seconds per phase; absent phases took no time. */
export type PhaseSeconds = Partial<Record<TaskPhase, number>>;

export class PhaseClock {
  readonly seconds: PhaseSeconds = {};

  add(phase: TaskPhase, seconds: number): void {
    this.seconds[phase] = (this.seconds[phase] ?? 0) + seconds;
  }

  async time<T>(phase: TaskPhase, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.add(phase, (performance.now() - start) / 1000);
    }
  }

  timeSync<T>(phase: TaskPhase, work: () => T): T {
    const start = performance.now();
    try {
      return work();
    } finally {
      this.add(phase, (performance.now() - start) / 1000);
    }
  }
}

/** Sums phase records (e.g. all of a round's activities). */
export function addPhaseSeconds(total: PhaseSeconds, more: PhaseSeconds | undefined): PhaseSeconds {
  if (!more) return total;
  const out: PhaseSeconds = { ...total };
  for (const phase of taskPhases) {
    const s = more[phase];
    if (s !== undefined) out[phase] = (out[phase] ?? 0) + s;
  }
  return out;
}
