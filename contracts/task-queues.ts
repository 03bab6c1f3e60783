/** The two kinds of worker queue (docs/architecture.md, "Task queues"). */
export const TaskQueue = {
  /** Workflows and light CPU activities: acquisition merge, manifests, reports. */
  orchestrator: 'winnow-orchestrator',
  /** Tensor work: trainMember, scoreShard, evaluate. One worker per GPU (or CPU). */
  gpu: 'winnow-gpu',
} as const;

export type TaskQueueName = (typeof TaskQueue)[keyof typeof TaskQueue];
