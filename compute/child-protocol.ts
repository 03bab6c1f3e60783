/** Messages between an activity and the compute child process that runs its task. */
export type ChildRequest =
  | { type: 'run'; task: string; input: unknown }
  /** Finish soon: a training task saves its position inside the epoch, then fails with TrainingInterrupted. */
  | { type: 'stop' };

export type ChildMessage =
  /** Sent once, when the child's modules are loaded (the end of its process start). */
  | { type: 'ready' }
  | { type: 'progress'; progress: unknown }
  | { type: 'result'; result: unknown }
  | { type: 'error'; error: { name: string; message: string; failureType?: string; stack?: string } };

/** A task failed inside the child; `failureType` is one of contracts/failures.ts when the task knew why. */
export class ChildTaskError extends Error {
  constructor(
    message: string,
    readonly failureType?: string,
  ) {
    super(message);
    this.name = 'ChildTaskError';
  }
}
