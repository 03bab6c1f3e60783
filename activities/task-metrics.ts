/**
 * winnow's own metrics, exported on the worker's Prometheus endpoint beside
 * the SDK's (through the activity context's metric meter, so they share its
 * exporter and its `winnow_` names carry the SDK's global prefix rules).
 * What each finished gpu task contributes is a pure function of its result;
 * rates (images trained/s, samples scored/s) come from the counters with
 * PromQL's rate(), and the gauges give the last task's own rate.
 */
import type { MetricMeter, MetricTags } from '@temporalio/common';
import type { ScoreShardResult } from '../compute/tasks/score-shard';
import type { TrainMemberResult } from '../compute/tasks/train-member';

export type TaskKind = 'trainMember' | 'scoreShard' | 'evaluate' | 'describeModel';

export interface MetricSample {
  name: MetricName;
  value: number;
  tags: MetricTags;
}

export const metricDefinitions = {
  winnow_images_trained: { type: 'counter', unit: 'images', help: 'training images processed (samples x epochs)' },
  winnow_members_trained: { type: 'counter', unit: 'members', help: 'ensemble members and evaluation models trained' },
  winnow_samples_scored: { type: 'counter', unit: 'samples', help: 'pool samples scored' },
  winnow_shards_scored: { type: 'counter', unit: 'shards', help: 'score shards written' },
  winnow_checkpoint_bytes_written: { type: 'counter', unit: 'bytes', help: 'checkpoint bytes written' },
  winnow_training_images_per_second: { type: 'gauge', unit: 'images/s', help: 'images/s of the last trainMember' },
  winnow_scoring_samples_per_second: {
    type: 'gauge',
    unit: 'samples/s',
    help: 'samples x models/s of the last scoreShard',
  },
  winnow_activity_seconds: { type: 'histogram', unit: 's', help: 'gpu activity wall time, by activity and outcome' },
} as const;
export type MetricName = keyof typeof metricDefinitions;

/** What one finished (or failed) task adds to the metrics. Pure. */
export function taskMetrics(kind: TaskKind, seconds: number, result: unknown, failed: boolean): MetricSample[] {
  const out: MetricSample[] = [];
  const backend = (result as { backend?: string } | undefined)?.backend ?? 'none';
  out.push({
    name: 'winnow_activity_seconds',
    value: seconds,
    tags: { activity: kind, outcome: failed ? 'failed' : 'ok', backend },
  });
  if (failed) return out;
  if (kind === 'trainMember') {
    const r = result as TrainMemberResult;
    const images = r.samples * r.history.length;
    out.push({ name: 'winnow_images_trained', value: images, tags: { backend } });
    out.push({ name: 'winnow_members_trained', value: 1, tags: { backend } });
    out.push({ name: 'winnow_checkpoint_bytes_written', value: r.checkpointBytes ?? 0, tags: { backend } });
    if (seconds > 0)
      out.push({ name: 'winnow_training_images_per_second', value: images / seconds, tags: { backend } });
  } else if (kind === 'scoreShard') {
    const r = result as ScoreShardResult;
    out.push({ name: 'winnow_samples_scored', value: r.count, tags: { backend } });
    out.push({ name: 'winnow_shards_scored', value: 1, tags: { backend } });
    if (seconds > 0 && r.models > 0) {
      out.push({ name: 'winnow_scoring_samples_per_second', value: (r.count * r.models) / seconds, tags: { backend } });
    }
  }
  return out;
}

/** Records samples on a meter (the core dedupes instruments by name, so creating them per call is cheap). */
export function recordMetrics(meter: MetricMeter, samples: MetricSample[]): void {
  for (const { name, value, tags } of samples) {
    const def = metricDefinitions[name];
    if (def.type === 'counter') meter.createCounter(name, def.unit, def.help).add(value, tags);
    else if (def.type === 'gauge') meter.createGauge(name, 'float', def.unit, def.help).set(value, tags);
    else meter.createHistogram(name, 'float', def.unit, def.help).record(value, tags);
  }
}
