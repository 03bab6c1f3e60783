/**
 * A detection search on a real dev server: generated scenes (Fashion-MNIST
 * objects on 48x48 canvases), detector-s4 members, entropy per class-map cell
 * reduced per image by max, two build-up rounds, COCO mAP for the AL subsets,
 * their random baselines and the full set; box previews in the store and the
 * report. A classifier named for detection data fails at once, before any task.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { PNG } from 'pngjs';
import { buildReport } from '../../client/report/write-report';
import { formatResultTable } from '../../client/result-table';
import type { SearchConfigInput } from '../../contracts/config';
import { FailureType } from '../../contracts/failures';
import { TaskQueue } from '../../contracts/task-queues';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { openStore } from '../../domain/storage/open-store';
import { subsetSearch } from '../../workflows';
import { completedActivities } from '../helpers/activity-history';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let storageDir: string;

before(async () => {
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-detection-search-'));
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  rmSync(storageDir, { recursive: true, force: true });
});

const scenes = {
  format: 'scenes' as const,
  seed: 5,
  train: 240,
  test: 60,
  size: 48,
  maxObjects: 3,
  objectSizes: [16, 24],
  maxClutter: 1,
};

const config = {
  task: 'detection',
  dataset: scenes,
  model: 'detector-s4',
  modelWidth: 0.5,
  training: { epochs: 3, batchSize: 16, learningRate: 0.003, augmentation: 'flip', minSteps: 30 },
  ensemble: { members: 2, checkpointEpochs: [2, 3] },
  initialSize: 60,
  targets: [120, 180],
  acquisition: { function: 'entropy', step: 60, reduction: 'max' },
  shardSize: 100,
} satisfies SearchConfigInput;

describe('detection search', () => {
  it('runs two build-up rounds and reports mAP for AL, random and the full set', async (t) => {
    const workflowId = `detection-${randomUUID()}`;
    const { result, activities } = await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      const handle = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [config],
      });
      const result = await handle.result();
      const runs = [handle.firstExecutionRunId, undefined].map((runId) =>
        env.client.workflow.getHandle(workflowId, runId),
      );
      return { result, activities: (await Promise.all(runs.map(completedActivities))).flat() };
    });

    assert.equal(result.poolSize, 240, 'the scenes of the training split are the pool');
    assert.deepEqual(
      result.evaluations.map((e) => e.size),
      [120, 180],
    );
    const inUnit = (v: number | undefined, what: string) =>
      assert.ok(v !== undefined && v >= 0 && v <= 1, `${what} is an mAP in [0, 1]: ${v}`);
    for (const row of result.evaluations) {
      inUnit(row.activeLearning.mean, `AL mAP at ${row.size}`);
      inUnit(row.random?.mean, `random mAP at ${row.size}`);
      const map50 = row.detection?.map50;
      inUnit(map50?.activeLearning.mean, `AL mAP@.5 at ${row.size}`);
      inUnit(map50?.random?.mean, `random mAP@.5 at ${row.size}`);
      // AP at IoU .5 is one of the ten thresholds mAP averages, and the loosest.
      assert.ok(map50!.activeLearning.mean >= row.activeLearning.mean, 'mAP@.5 >= mAP@[.5:.95]');
    }
    inUnit(result.full?.mean, 'full-set mAP');
    assert.ok(
      result.fullMap50!.mean > 0,
      `the detector trained on the full set finds objects: ${result.fullMap50!.mean}`,
    );

    // Scoring: a detector's class maps, cells reduced by max; no accumulators kept for detection.
    const scored = activities.filter((a) => a.type === 'scoreShard');
    assert.equal(scored.length, 2 * 3, '2 rounds x 3 shards of 100, 100, 40 scenes');
    for (const a of scored) {
      const input = a.input as { reduction?: string; accumulatorKey?: string };
      assert.equal(input.reduction, 'max');
      assert.equal(input.accumulatorKey, undefined);
    }

    // The acquired subsets: 60 new scenes per round, none already in the subset.
    const store = openStore(pathToFileURL(storageDir).href);
    const read = async (uri: string) => parseSubsetManifest((await store.get(store.keyOf(uri))).toString('utf8'), uri);
    const first = await read(result.evaluations[0]!.subsetUri);
    const second = await read(result.evaluations[1]!.subsetUri);
    assert.equal(new Set(first.indices).size, 120);
    assert.ok(
      [...first.indices].every((i) => second.indices.includes(i)),
      'build-up keeps the earlier subset',
    );
    assert.equal(second.lineage.acquisitionFunction, 'entropy');

    // Previews: a few test scenes with the boxes drawn, as RGB PNGs at the input size.
    const previews = result.evaluations[1]!.detection!.previews.activeLearning!;
    assert.equal(previews.length, 4);
    const png = PNG.sync.read(await store.get(store.keyOf(previews[0]!.uri)));
    assert.deepEqual([png.width, png.height], [48, 48]);

    const table = formatResultTable(result);
    assert.match(table, /COCO mAP@\[\.5:\.95\] \(%\) on scenes, 240 training images/);
    assert.match(table, /mAP@\.5 \(%\)/);
    for (const line of table.split('\n')) t.diagnostic(line);
    const html = await buildReport({ result });
    assert.match(html, /<h2>mAP@\[\.5:\.95\] vs\. subset size<\/h2>/);
    assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, 8, '4 AL and 4 random previews');
  });

  it('refuses a classifier on detection data before any task runs', async () => {
    const workflowId = `detection-bad-${randomUUID()}`;
    const failure = await withWorkers(env, ['orchestrator'], async () => {
      const handle = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [{ ...config, model: 'cnn-small', training: { augmentation: 'crop-flip' } }],
      });
      return handle.result().then(
        () => assert.fail('the search should fail'),
        (err: unknown) => err,
      );
    });
    assert.ok(failure instanceof WorkflowFailedError);
    const cause = failure.cause;
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, FailureType.InvalidConfig);
    assert.match(cause.message, /model: task detection trains a detector/);
    assert.match(cause.message, /training\.augmentation: crop-flip is for classification/);
  });
});
