/** The two kinds of worker queue (see DESIGN.md, "Task queues and workers"). */
export const TaskQueue = {
  /** Workflows and light CPU activities: acquisition merge, manifests, reports. */
  orchestrator: 'winnow-orchestrator',
  /** Tensor work: trainMember, scoreShard, evaluate. One worker per GPU (or CPU). */
  gpu: 'winnow-gpu',
} as const;

export type TaskQueueName = (typeof TaskQueue)[keyof typeof TaskQueue];
