/**
 * Where a compute task's time goes: seconds per phase (backend init, model
 * build, data read, checkpoint read, compute, write), summed over the task.
 * The parent adds process start. Results carry the totals so benches and the
 * report can show them; a few numbers, never per-batch detail.
 */

import { addPhaseSeconds, taskPhases, type PhaseSeconds, type TaskPhase } from '../contracts/task-phases';

export { addPhaseSeconds, taskPhases, type PhaseSeconds, type TaskPhase };

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
