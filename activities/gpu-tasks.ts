/**
 * Activities (winnow-gpu): the tensor work, each run in a compute child
 * process. Progress from the child becomes the activity's heartbeat (a small
 * pointer such as the epoch and the last checkpoint URI, never tensors);
 * cancellation kills the child. A retried trainMember resumes from the
 * latest intact checkpoint in the store.
 */
import { Context } from '@temporalio/activity';
import { closeIdleChildren, runInChild } from '../compute/run-child';
import type { DescribeModelInput, LayersModelDescription } from '../compute/tasks/describe-model';
import type { EvaluateInput, EvaluateResult } from '../compute/tasks/evaluate';
import type { ScoreShardInput, ScoreShardResult } from '../compute/tasks/score-shard';
import type { TrainMemberInput, TrainMemberResult } from '../compute/tasks/train-member';
import { shutdownGraceMs } from './shutdown-grace';
import { recordMetrics, taskMetrics, type TaskKind } from './task-metrics';
import { withTypedFailures } from './to-application-failure';

/** Warm compute children exit when the gpu worker stops (they would also leave when it exits). */
export { closeIdleChildren };

export type {
  DescribeModelInput,
  EvaluateInput,
  EvaluateResult,
  LayersModelDescription,
  ScoreShardInput,
  ScoreShardResult,
  TrainMemberInput,
  TrainMemberResult,
};

/**
 * Runs a compute task from inside an activity. Heartbeats with each progress
 * report and, in between, every `keepAliveMs` repeating the last one: one
 * epoch or one model's scoring may take far longer than the heartbeat timeout.
 */
export async function runTask<R>(task: TaskKind, input: unknown, stopGraceMs = 0, keepAliveMs = 10_000): Promise<R> {
  const ctx = Context.current();
  let last: unknown;
  const keepAlive = setInterval(() => ctx.heartbeat(last), keepAliveMs);
  const onProgress = (p: unknown): void => {
    last = p;
    ctx.heartbeat(p);
  };
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  try {
    const result = await withTypedFailures(() =>
      runInChild<R>(task, input, { signal: ctx.cancellationSignal, onProgress, stopGraceMs }),
    );
    recordMetrics(ctx.metricMeter, taskMetrics(task, seconds(), result, false));
    return result;
  } catch (err) {
    recordMetrics(ctx.metricMeter, taskMetrics(task, seconds(), undefined, true));
    throw err;
  } finally {
    clearInterval(keepAlive);
  }
}

/** On cancellation (worker shutdown included) the member saves its position inside the epoch before the attempt fails. */
export function trainMember(input: TrainMemberInput): Promise<TrainMemberResult> {
  return runTask('trainMember', input, shutdownGraceMs());
}

export function scoreShard(input: ScoreShardInput): Promise<ScoreShardResult> {
  return runTask('scoreShard', input);
}

/** A model from a file, read, built and checked against the dataset once before any member trains. */
export function describeModel(input: DescribeModelInput): Promise<LayersModelDescription> {
  return runTask('describeModel', input);
}

export function evaluate(input: EvaluateInput): Promise<EvaluateResult> {
  return runTask('evaluate', input);
}
