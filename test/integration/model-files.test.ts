/**
 * Searches with a model from a file on a real dev server: a tfjs model saved by
 * model.save() trains the ensemble and the evaluations through two build-up
 * rounds on an image folder (class sub-folders of PNGs), its fingerprint reaches every acquired subset's lineage; a model that
 * does not fit the dataset fails the search at its start, before any training.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SearchConfigInput } from '../../contracts/config';
import { FailureType } from '../../contracts/failures';
import { TaskQueue } from '../../contracts/task-queues';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { readLayersModel } from '../../domain/ml/layers-model-file';
import { readInputFile } from '../../domain/storage/input-files';
import { openStore } from '../../domain/storage/open-store';
import { formatResultTable } from '../../client/result-table';
import { subsetSearch } from '../../workflows';
import { completedActivities } from '../helpers/activity-history';
import { applicationFailureOf } from '../helpers/failures';
import { writeClassFolders } from '../helpers/image-folders';
import { saveLayersModel, smallCnn } from '../helpers/layers-model-files';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let storageDir: string;
let modelDir: string;

before(async () => {
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-model-search-'));
  modelDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-model-files-'));
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  await tf.setBackend('cpu');
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  rmSync(storageDir, { recursive: true, force: true });
  rmSync(modelDir, { recursive: true, force: true });
});

const dataset = { kind: 'synthetic', uri: 'synthetic:?seed=4&shape=12x12x1&classes=4&test=200', size: 300 } as const;
const tiny = {
  dataset,
  training: { epochs: 2, batchSize: 32, learningRate: 0.003 },
  ensemble: { members: 2, checkpointEpochs: [1, 2] },
  shardSize: 128,
} satisfies Partial<SearchConfigInput>;

describe('searches with a model from a file', () => {
  it('trains a tfjs model saved by model.save() on an image folder through two rounds; fingerprint in lineage', async () => {
    const classes = ['boots', 'coats', 'dresses', 'shirts'];
    const images = path.join(modelDir, 'images');
    writeClassFolders(path.join(images, 'train'), { classes, perClass: 75, side: 12, seed: 3 });
    writeClassFolders(path.join(images, 'test'), { classes, perClass: 25, side: 12, seed: 4 });
    const file = await saveLayersModel(smallCnn([12, 12, 1], 4), path.join(modelDir, 'small-cnn'));
    const fingerprint = (await readLayersModel(file, readInputFile)).fingerprint;
    const workflowId = `model-file-${randomUUID()}`;
    const { result, activities } = await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      const handle = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [
          {
            ...tiny,
            dataset: { kind: 'image-folder', uri: images },
            // A few optimizer steps per model are not enough for any model to beat chance on 60 images.
            training: { ...tiny.training, learningRate: 0.01, minSteps: 30 },
            model: { kind: 'tfjs-layers', uri: pathToFileURL(file).href },
            initialSize: 30,
            targets: [60, 90],
            acquisition: { function: 'entropy', step: 30 },
            // Subset transfer: the search model's subsets also train cnn-small at a width of its own.
            modelWidth: 0.25,
            evaluation: {
              fullBaseline: false,
              models: [
                { kind: 'tfjs-layers', uri: pathToFileURL(file).href },
                { name: 'cnn-small', width: 0.5 },
              ],
            },
          } satisfies SearchConfigInput,
        ],
      });
      const result = await handle.result();
      // One run per round (continue-as-new): the first run and the last one hold the two evaluations.
      const runs = [handle.firstExecutionRunId, undefined].map((runId) =>
        env.client.workflow.getHandle(workflowId, runId),
      );
      return { result, activities: (await Promise.all(runs.map(completedActivities))).flat() };
    });
    assert.deepEqual(
      result.evaluations.map((e) => e.size),
      [60, 90],
    );
    for (const row of result.evaluations) {
      assert.ok(row.activeLearning.mean > 0.25, `AL accuracy ${row.activeLearning.mean} beats chance (4 classes)`);
      assert.deepEqual(
        row.models?.map((m) => m.model),
        ['small-cnn/model.json', 'cnn-small width 0.5'],
      );
      assert.deepEqual(row.models?.[0].activeLearning, row.activeLearning, 'the first model fills the main row');
      const transfer = row.models![1];
      assert.ok(transfer.random, 'cnn-small trained on the random baseline too');
      assert.ok(transfer.activeLearning.mean > 0.25, `cnn-small on the subset: ${transfer.activeLearning.mean}`);
    }
    const evaluated = activities.filter((a) => a.type === 'trainMember' && JSON.stringify(a.input).includes('/eval/'));
    assert.equal(evaluated.length, 2 * 2 * 2, '2 sizes x (subset, random) x 2 models');
    assert.match(
      formatResultTable(result),
      /evaluated with cnn-small width 0\.5 \(subsets found by the search model\)/,
    );
    const widths = evaluated.map((a) => (a.input as { model: { width?: number } }).model.width);
    assert.equal(widths.filter((w) => w === 0.5).length, 4, 'cnn-small trains at its own width, not modelWidth');
    assert.ok(
      activities.some((a) => a.type === 'describeModel'),
      'the model was checked once before training',
    );
    assert.equal(result.poolSize, 300, "the image folder's training images are the pool");
    const store = openStore(pathToFileURL(storageDir).href);
    for (const size of ['60', '90']) {
      const uri = result.subsets[size];
      const manifest = parseSubsetManifest((await store.get(uri)).toString('utf8'), uri);
      assert.equal(manifest.lineage.modelFingerprint, fingerprint, `subset ${size} names the model file`);
    }
  });

  it('a model that does not fit the dataset fails the search at its start with InvalidConfig', async () => {
    const file = await saveLayersModel(smallCnn([28, 28, 1], 10), path.join(modelDir, 'wrong-shape'));
    const workflowId = `model-mismatch-${randomUUID()}`;
    const error = await withWorkers(env, ['orchestrator', 'gpu'], () =>
      env.client.workflow.execute(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [{ ...tiny, model: { kind: 'tfjs-layers', uri: file }, targets: [60] } satisfies SearchConfigInput],
      }),
    ).then(
      () => assert.fail('the search should have failed'),
      (err: unknown) => err,
    );
    const cause = applicationFailureOf(error);
    assert.equal(cause.type, FailureType.InvalidConfig);
    assert.ok(cause.nonRetryable, 'not retried');
    for (const phrase of [file, '[28,28,1]', '[12,12,1]', '4 classes']) {
      assert.ok(cause.message.includes(phrase), `"${cause.message}" names ${phrase}`);
    }
    const activities = await completedActivities(env.client.workflow.getHandle(workflowId));
    assert.ok(!activities.some((a) => a.type === 'trainMember'), 'no member trained');
  });
});
