/**
 * A search with evaluation.earlyStopping on a real dev server: every evaluation model (subset, random
 * subset, full set) validates on the training samples after the pool and comes back with its best epoch's
 * checkpoint after at most maxEpochs; ensemble members train their fixed training.epochs; no held-out sample is in any subset.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SearchConfigInput } from '../../contracts/config';
import { FailureType } from '../../contracts/failures';
import { TaskQueue } from '../../contracts/task-queues';
import type { TrainMemberInput, TrainMemberResult } from '../../activities';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { openStore } from '../../domain/storage/open-store';
import { subsetSearch } from '../../workflows';
import { formatResultTable } from '../../client/result-table';
import { completedActivities } from '../helpers/activity-history';
import { applicationFailureOf } from '../helpers/failures';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let storageDir: string;

before(async () => {
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-early-search-'));
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  rmSync(storageDir, { recursive: true, force: true });
});

describe('a search with early stopping', () => {
  it('stops each evaluation model on held-out training samples and keeps its best epoch', async () => {
    const workflowId = `early-stopping-${randomUUID()}`;
    const config: SearchConfigInput = {
      dataset: { kind: 'synthetic', uri: 'synthetic:?seed=5&shape=10x10x1&classes=4&test=100', size: 400, limit: 250 },
      modelWidth: 0.25,
      training: { epochs: 2, batchSize: 32, learningRate: 0.01 },
      ensemble: { members: 2, checkpointEpochs: [1, 2] },
      initialSize: 50,
      targets: [100],
      acquisition: { function: 'entropy' },
      evaluation: { earlyStopping: { validationSamples: 100, patience: 2, maxEpochs: 12 } },
      shardSize: 128,
    };
    const { result, activities } = await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      const handle = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [config],
      });
      const result = await handle.result();
      // One round: the search may end in its first run, so the first and the latest run can be the same one.
      const runIds = [...new Set([handle.firstExecutionRunId, (await handle.describe()).runId])];
      const runs = runIds.map((runId) => env.client.workflow.getHandle(workflowId, runId));
      return { result, activities: (await Promise.all(runs.map(completedActivities))).flat() };
    });
    assert.equal(result.poolSize, 250, 'the pool is the first dataset.limit samples');
    const trainings = activities.filter((a) => a.type === 'trainMember');
    const evaluations = trainings.filter((a) => (a.input as TrainMemberInput).memberKey.includes('/eval/'));
    const members = trainings.filter((a) => !(a.input as TrainMemberInput).memberKey.includes('/eval/'));
    assert.equal(evaluations.length, 3, 'subset, random subset and full set');
    assert.ok(members.length >= 2);
    for (const a of members) {
      assert.equal((a.input as TrainMemberInput).earlyStopping, undefined, 'members train their fixed epochs');
      assert.equal((a.result as TrainMemberResult).history.length, 2, 'members keep training.epochs');
    }
    let stoppedEarly = 0;
    for (const a of evaluations) {
      const input = a.input as TrainMemberInput;
      const trained = a.result as TrainMemberResult;
      assert.deepEqual(input.earlyStopping, { validationStart: 250, validationSamples: 100, patience: 2 });
      assert.equal(input.training.epochs, 12, 'evaluation models train up to maxEpochs');
      const early = trained.earlyStopping!;
      assert.ok(early, `${input.memberKey} reports early stopping`);
      assert.equal(trained.checkpoints.length, 1);
      assert.equal(trained.checkpoints[0].epoch, early.bestEpoch);
      assert.match(trained.checkpoints[0].uri, /ckpt-best\/checkpoint\.json$/);
      assert.ok(early.epochsTrained === 12 || early.epochsTrained - early.bestEpoch === 2);
      if (early.epochsTrained < 12) stoppedEarly++;
    }
    assert.ok(stoppedEarly > 0, 'at least one evaluation model stopped before its 12 epochs');
    const keptBy = (part: string) =>
      evaluations
        .filter((a) => (a.input as TrainMemberInput).memberKey.includes(part))
        .map((a) => (a.result as TrainMemberResult).earlyStopping!.bestEpoch);
    assert.deepEqual(result.evaluations[0].keptEpochs, {
      activeLearning: keptBy('/al-'),
      random: keptBy('/random-'),
    });
    assert.deepEqual(result.fullKeptEpochs, keptBy('/full-'));
    assert.match(formatResultTable(result), /epochs kept by early stopping: 100: AL \d+, random \d+; full set \d+/);
    const row = result.evaluations[0];
    assert.equal(row.size, 100);
    assert.ok(row.activeLearning.mean > 0.25 && row.random && result.full, 'AL, random and full are evaluated');
    const store = openStore(pathToFileURL(storageDir).href);
    const subset = parseSubsetManifest((await store.get(row.subsetUri)).toString('utf8'), row.subsetUri);
    assert.ok(
      Array.from(subset.indices).every((i) => i < 250),
      'no held-out sample is in the subset',
    );
  });
  it('held-out samples that do not fit after the pool fail the search at its start with InvalidConfig', async () => {
    const workflowId = `early-stopping-too-large-${randomUUID()}`;
    const error = await withWorkers(env, ['orchestrator', 'gpu'], () =>
      env.client.workflow.execute(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [
          {
            dataset: {
              kind: 'synthetic',
              uri: 'synthetic:?seed=5&shape=10x10x1&classes=4&test=100',
              size: 400,
              limit: 350,
            },
            modelWidth: 0.25,
            initialSize: 50,
            targets: [100],
            evaluation: { earlyStopping: { validationSamples: 100 } },
            shardSize: 128,
          } satisfies SearchConfigInput,
        ],
      }),
    ).then(
      () => assert.fail('the search should have failed'),
      (err: unknown) => err,
    );
    const cause = applicationFailureOf(error);
    assert.equal(cause.type, FailureType.InvalidConfig);
    assert.match(
      cause.message,
      /validationSamples \(100\) does not fit after the pool: the training split has 400 samples and dataset\.limit takes 350/,
    );
    const activities = await completedActivities(env.client.workflow.getHandle(workflowId));
    assert.ok(!activities.some((a) => a.type === 'trainMember'), 'no model trained');
  });
});
