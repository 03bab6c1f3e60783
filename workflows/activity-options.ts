/**
 * Activity options per kind of work, shared by the search and its scoring
 * child workflows. Tensor work runs for hours and is detected dead by missed
 * heartbeats rather than by a short deadline.
 */
import type { ActivityOptions, RetryPolicy } from '@temporalio/common';
import { FailureType, nonRetryableFailureTypes } from '../contracts/failures';
import { TaskQueue } from '../contracts/task-queues';

const retry: RetryPolicy = {
  nonRetryableErrorTypes: [...nonRetryableFailureTypes],
  initialInterval: '2 seconds',
  maximumInterval: '5 minutes',
};

export const trainingActivityOptions: ActivityOptions = {
  taskQueue: TaskQueue.gpu,
  startToCloseTimeout: '48 hours',
  heartbeatTimeout: '2 minutes',
  retry,
};
// A corrupt checkpoint is not fixed by scoring again: the round retrains the member (scoreShardsWindowed's repair).
export const scoringActivityOptions: ActivityOptions = {
  taskQueue: TaskQueue.gpu,
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '2 minutes',
  retry: { ...retry, nonRetryableErrorTypes: [...nonRetryableFailureTypes, FailureType.CorruptArtifact] },
};
export const lightActivityOptions: ActivityOptions = {
  taskQueue: TaskQueue.orchestrator,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry,
};
