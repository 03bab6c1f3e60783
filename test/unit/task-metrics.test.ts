/** What each finished gpu task adds to winnow's Prometheus metrics, and how they reach a meter. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricMeter, MetricTags } from '@temporalio/common';
import { metricDefinitions, recordMetrics, taskMetrics } from '../../activities/task-metrics';

const byName = (samples: ReturnType<typeof taskMetrics>) => Object.fromEntries(samples.map((s) => [s.name, s]));

describe('task metrics', () => {
  it('a trained member: images (samples x epochs run), one member, checkpoint bytes, images/s, by backend', () => {
    const result = {
      samples: 500,
      history: [{}, {}, {}],
      backend: 'tfjs-node',
      checkpointBytes: 12_345,
      checkpoints: [],
    };
    const m = byName(taskMetrics('trainMember', 2, result, false));
    assert.equal(m.winnow_images_trained.value, 1500);
    assert.deepEqual(m.winnow_images_trained.tags, { backend: 'tfjs-node' });
    assert.equal(m.winnow_members_trained.value, 1);
    assert.equal(m.winnow_checkpoint_bytes_written.value, 12_345);
    assert.equal(m.winnow_training_images_per_second.value, 750);
    assert.deepEqual(m.winnow_activity_seconds, {
      name: 'winnow_activity_seconds',
      value: 2,
      tags: { activity: 'trainMember', outcome: 'ok', backend: 'tfjs-node' },
    });
  });

  it('a scored shard: samples, one shard, samples x models per second; random scores have no backend', () => {
    const m = byName(taskMetrics('scoreShard', 4, { count: 1000, models: 8, backend: 'wasm' }, false));
    assert.equal(m.winnow_samples_scored.value, 1000);
    assert.equal(m.winnow_shards_scored.value, 1);
    assert.equal(m.winnow_scoring_samples_per_second.value, 2000);
    const random = byName(taskMetrics('scoreShard', 1, { count: 10, models: 0 }, false));
    assert.equal(random.winnow_scoring_samples_per_second, undefined);
    assert.equal(random.winnow_samples_scored.tags.backend, 'none');
  });

  it('a failed task adds only its duration, marked failed', () => {
    const samples = taskMetrics('trainMember', 3, undefined, true);
    assert.deepEqual(samples, [
      {
        name: 'winnow_activity_seconds',
        value: 3,
        tags: { activity: 'trainMember', outcome: 'failed', backend: 'none' },
      },
    ]);
  });

  it('each sample goes to an instrument of its kind, with its unit and help', () => {
    const seen: string[] = [];
    const instrument = (kind: string, name: string, unit?: string) => ({
      add: (v: number, tags?: MetricTags) => seen.push(`${kind} ${name} ${unit} ${v} ${JSON.stringify(tags)}`),
      set: (v: number, tags?: MetricTags) => seen.push(`${kind} ${name} ${unit} ${v} ${JSON.stringify(tags)}`),
      record: (v: number, tags?: MetricTags) => seen.push(`${kind} ${name} ${unit} ${v} ${JSON.stringify(tags)}`),
    });
    const meter = {
      createCounter: (name: string, unit?: string) => instrument('counter', name, unit),
      createGauge: (name: string, _t: unknown, unit?: string) => instrument('gauge', name, unit),
      createHistogram: (name: string, _t: unknown, unit?: string) => instrument('histogram', name, unit),
    } as unknown as MetricMeter;
    recordMetrics(meter, taskMetrics('scoreShard', 2, { count: 10, models: 2, backend: 'wasm' }, false));
    assert.deepEqual(seen, [
      'histogram winnow_activity_seconds s 2 {"activity":"scoreShard","outcome":"ok","backend":"wasm"}',
      'counter winnow_samples_scored samples 10 {"backend":"wasm"}',
      'counter winnow_shards_scored shards 1 {"backend":"wasm"}',
      'gauge winnow_scoring_samples_per_second samples/s 10 {"backend":"wasm"}',
    ]);
    assert.ok(Object.keys(metricDefinitions).every((n) => n.startsWith('winnow_')));
  });
});
