/**
 * The subset search end to end on a real Temporal dev server with both
 * workers: build-up rounds with continue-as-new, compress, the progress query,
 * search attributes, the artifacts in the store, and bad input.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ApplicationFailure } from '@temporalio/common';
import { applicationFailureOf } from '../helpers/failures';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { openStore } from '../../domain/storage/open-store';
import { subsetSearch } from '../../workflows';
import type { SearchConfigInput } from '../../contracts/config';
import {
  pauseSignal,
  progressQuery,
  type SearchProgress,
  setTargetsUpdate,
  stopAfterRoundSignal,
  unpauseSignal,
} from '../../workflows/definitions';
import { WinnowDataset, WinnowRound, WinnowStatus, WinnowSubsetSize } from '../../workflows/search-attributes';
import { TaskQueue } from '../../contracts/task-queues';
import { startDevServerEnv, withWorkers, workflowBundle } from '../helpers/temporal';
import { restartFailedSearch } from '../../client/restart';
import { completedActivities } from '../helpers/activity-history';
import { Worker } from '@temporalio/worker';

let env: TestWorkflowEnvironment;
let storageDir: string;

before(async () => {
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-search-'));
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  rmSync(storageDir, { recursive: true, force: true });
});

/** A small learnable pool: 300 training samples of 12x12x1, 4 classes, 200 test samples. */
const dataset = { kind: 'synthetic', uri: 'synthetic:?seed=4&shape=12x12x1&classes=4&test=200', size: 300 } as const;
const tiny = {
  dataset,
  modelWidth: 0.25,
  training: { epochs: 2, batchSize: 32, learningRate: 0.003 },
  ensemble: { members: 2, checkpointEpochs: [1, 2] },
  shardSize: 128,
} satisfies Partial<SearchConfigInput>;

/** Polls the progress query until `done` holds or ~`seconds` pass; returns the last answer (callers assert on it). */
async function progressWhen(
  handle: { query: (q: typeof progressQuery) => Promise<SearchProgress> },
  done: (p: SearchProgress) => boolean,
  seconds: number,
): Promise<SearchProgress> {
  let progress = await handle.query(progressQuery);
  for (let i = 0; i < seconds * 10 && !done(progress); i++) {
    await new Promise((r) => setTimeout(r, 100));
    progress = await handle.query(progressQuery).catch(() => progress);
  }
  return progress;
}

async function failureOf(input: unknown): Promise<ApplicationFailure> {
  const error = await withWorkers(env, ['orchestrator', 'gpu'], () =>
    env.client.workflow.execute(subsetSearch, {
      taskQueue: TaskQueue.orchestrator,
      workflowId: `bad-${randomUUID()}`,
      args: [input],
    }),
  ).then(
    () => assert.fail('the workflow should have failed'),
    (err: unknown) => err,
  );
  // An activity's failure arrives wrapped in an ActivityFailure: take the first ApplicationFailure down the chain.
  return applicationFailureOf(error);
}

describe('subsetSearch on a real dev server', () => {
  it('build-up: grows the subset by the step each round, continues as new, evaluates at each target', async () => {
    const workflowId = `Build Up ${randomUUID()}`;
    const config: SearchConfigInput = {
      ...tiny,
      initialSize: 30,
      targets: [60, 90],
      acquisition: { function: 'entropy', step: 30 },
    };
    // Only the orchestrator polls at first: the search must wait on the GPU queue.
    const handle = await withWorkers(env, ['orchestrator'], async () => {
      const h = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [config],
      });
      const progress = await progressWhen(h, (p) => p.phase === 'preparing', 10);
      assert.equal(progress.phase, 'preparing');
      assert.equal(progress.computeBackend, undefined);
      return h;
    });

    // Queries on a closed workflow are answered by replaying it on a worker, so keep them running.
    const { result, progress, description, history } = await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      const result = await handle.result();
      const latest = env.client.workflow.getHandle(workflowId);
      return {
        result,
        progress: await latest.query(progressQuery),
        description: await latest.describe(),
        history: await latest.fetchHistory(),
      };
    });

    assert.equal(result.searchId, workflowId.toLowerCase().replace(/ /g, '-'));
    assert.deepEqual(
      result.evaluations.map((e) => e.size),
      [60, 90],
    );
    for (const row of result.evaluations) {
      assert.ok(
        row.activeLearning.mean > 0.25 && row.activeLearning.mean <= 1,
        `AL accuracy ${row.activeLearning.mean} beats chance`,
      );
      assert.ok(row.random && row.random.runs.length === 1);
    }
    assert.ok(result.full && result.full.mean > 0.25, 'full-set baseline trained once');
    assert.deepEqual(
      result.rounds.map((r) => [r.round, r.subsetSize, r.added]),
      [
        [0, 60, 30],
        [1, 90, 30],
      ],
    );
    // Each round sums its compute tasks' reported phases per step (the report's task-phase plot).
    for (const r of result.rounds) {
      for (const step of ['train', 'score', 'evaluate'] as const)
        assert.ok((r.taskSeconds?.[step]?.compute ?? 0) > 0, `round ${r.round}: ${step} tasks report compute seconds`);
      assert.ok((r.taskSeconds?.score?.processStart ?? -1) >= 0, `round ${r.round}: the parent adds process start`);
    }

    // The subsets in the store: each extends its parent by exactly the step, no duplicates, lineage linked.
    const store = openStore(pathToFileURL(storageDir).href);
    const read = async (uri: string) => parseSubsetManifest((await store.get(uri)).toString('utf8'), uri);
    const s1 = await read(result.subsets['60']);
    const s2 = await read(result.subsets['90']);
    assert.equal(s1.count, 60);
    assert.equal(s2.count, 90);
    assert.equal(s2.lineage.parentManifestUri, result.subsets['60']);
    const s0 = await read(s1.lineage.parentManifestUri!);
    assert.equal(s0.count, 30);
    assert.equal(new Set(s2.indices).size, 90);
    for (const i of s1.indices) assert.ok(s2.indices.includes(i), `sample ${i} kept in the next subset`);
    assert.equal(s2.lineage.acquisitionFunction, 'entropy');
    assert.ok(s2.lineage.ensembleManifestUri?.endsWith('/round-1/ensemble.json'));

    // continue-as-new: the result came from a later run, whose history is small.
    assert.notEqual(description.runId, handle.firstExecutionRunId);
    assert.ok((history.events?.length ?? 0) < 200, `last run's history has ${history.events?.length} events`);
    // The recorded history replays against the current workflow code without nondeterminism.
    const firstRun = await env.client.workflow.getHandle(workflowId, handle.firstExecutionRunId).fetchHistory();
    assert.ok((firstRun.events?.length ?? 0) < 200, `first run's history has ${firstRun.events?.length} events`);
    for (const recorded of [firstRun, history]) {
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle(), replayName: 'build-up' }, recorded);
    }

    assert.equal(progress.phase, 'done');
    assert.equal(progress.subsetSize, 90);
    assert.equal(description.typedSearchAttributes.get(WinnowStatus), 'completed');
    assert.equal(description.typedSearchAttributes.get(WinnowDataset), 'synthetic');
    assert.equal(description.typedSearchAttributes.get(WinnowSubsetSize), 90);
    assert.equal(description.typedSearchAttributes.get(WinnowRound), 2);
  });

  it('every other acquisition function runs a 2-round search with 2 members x 2 checkpoints', async () => {
    const functions = ['mutual-information', 'variation-ratios', 'margin', 'least-confidence', 'random'] as const;
    const results = await withWorkers(
      env,
      ['orchestrator', 'gpu'],
      () =>
        Promise.all(
          functions.map((fn) =>
            env.client.workflow.execute(subsetSearch, {
              taskQueue: TaskQueue.orchestrator,
              workflowId: `fn-${fn}-${randomUUID()}`,
              args: [
                {
                  ...tiny,
                  initialSize: 30,
                  targets: [60, 90],
                  acquisition: { function: fn, step: 30 },
                  evaluation: { randomBaseline: false, fullBaseline: false },
                },
              ],
            }),
          ),
        ),
      3,
    );
    const store = openStore(pathToFileURL(storageDir).href);
    for (const [i, result] of results.entries()) {
      assert.deepEqual(
        result.rounds.map((r) => r.subsetSize),
        [60, 90],
        functions[i],
      );
      const last = parseSubsetManifest((await store.get(result.subsets['90'])).toString('utf8'));
      assert.equal(last.lineage.acquisitionFunction, functions[i]);
      assert.equal(new Set(last.indices).size, 90);
    }
  });

  it('compress: one ensemble on the whole pool, the most uncertain samples at each target', async () => {
    const config: SearchConfigInput = {
      ...tiny,
      scheme: 'compress',
      targets: [100, 200],
      ensemble: { members: 1, checkpointEpochs: [2] },
      evaluation: { fullBaseline: false },
    };
    const result = await withWorkers(env, ['orchestrator', 'gpu'], () =>
      env.client.workflow.execute(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId: `compress-${randomUUID()}`,
        args: [config],
      }),
    );
    assert.deepEqual(
      result.evaluations.map((e) => e.size),
      [100, 200],
    );
    assert.equal(result.full, undefined);
    const store = openStore(pathToFileURL(storageDir).href);
    const small = parseSubsetManifest((await store.get(result.subsets['100'])).toString('utf8'));
    const large = parseSubsetManifest((await store.get(result.subsets['200'])).toString('utf8'));
    assert.equal(small.lineage.parentManifestUri, null);
    // Top-100 by score is inside top-200 by the same scores.
    for (const i of small.indices) assert.ok(large.indices.includes(i));
  });

  it('dataset.limit cuts the pool to its first samples; training.minSteps trains small sets for more epochs', async () => {
    const workflowId = `limit-${randomUUID()}`;
    const config: SearchConfigInput = {
      ...tiny,
      dataset: { ...dataset, limit: 200, testLimit: 100 },
      // 32 per batch: 40 samples take 2 steps an epoch, 80 take 3, 200 take 7.
      training: { ...tiny.training, epochs: 1, minSteps: 6 },
      ensemble: { members: 1, checkpointEpochs: [1] },
      initialSize: 40,
      targets: [80],
      evaluation: { repeats: 1, randomBaseline: false, fullBaseline: true },
    };
    const { result, runs } = await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      const handle = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [config],
      });
      const result = await handle.result();
      // Every run of the chain (the search may continue as new before evaluating).
      const runIds = new Set([
        handle.firstExecutionRunId,
        (await env.client.workflow.getHandle(workflowId).describe()).runId,
      ]);
      return {
        result,
        runs: await Promise.all(
          [...runIds].map((runId) => completedActivities(env.client.workflow.getHandle(workflowId, runId))),
        ),
      };
    });
    assert.equal(result.poolSize, 200);
    const subset = parseSubsetManifest(
      (await openStore(pathToFileURL(storageDir).href).get(result.subsets['80'])).toString('utf8'),
    );
    assert.ok(
      subset.indices.every((i) => i < 200),
      'acquired only from the first 200 samples',
    );
    type TrainInput = {
      memberKey: string;
      training: { epochs: number; minSteps?: number };
      checkpointEpochs: number[];
    };
    const trained = runs
      .flat()
      .filter((a) => a.type === 'trainMember')
      .map((a) => a.input as TrainInput);
    const byRole = (pattern: RegExp) =>
      trained
        .filter((t) => pattern.test(t.memberKey))
        .map((t) => [t.training.epochs, t.checkpointEpochs, t.training.minSteps]);
    assert.deepEqual(
      byRole(/round-0\/member-/),
      [[3, [3], undefined]],
      'ensemble on 40 samples: 3 epochs of 2 steps, its checkpoint moved to the end',
    );
    assert.deepEqual(
      byRole(/eval\/size-80\/al-/),
      [[2, [2], undefined]],
      'evaluation model on 80 samples: 2 epochs of 3 steps',
    );
    assert.deepEqual(byRole(/eval\/full-/), [[1, [1], undefined]], 'full set of 200 already takes 7 steps in 1 epoch');
    const evaluated = runs
      .flat()
      .filter((a) => a.type === 'evaluate')
      .map((a) => a.result as { samples: number });
    assert.ok(
      evaluated.length >= 2 && evaluated.every((e) => e.samples === 100),
      `tested on the first 100 test samples: ${JSON.stringify(evaluated.map((e) => e.samples))}`,
    );

    const tooLarge = await failureOf({ ...tiny, dataset: { ...dataset, limit: 200 }, targets: [250] });
    assert.match(tooLarge.message, /targets\.0: 250 is larger than the training set \(200 samples\)/);
  });

  it('controls: pause holds the search between steps, setTargets changes the plan, unpause goes on', async () => {
    const config: SearchConfigInput = {
      ...tiny,
      initialSize: 30,
      targets: [60, 90, 120],
      acquisition: { step: 30 },
      evaluation: { randomBaseline: false, fullBaseline: false },
    };
    const result = await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      const handle = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId: `controls-${randomUUID()}`,
        args: [config],
      });
      await handle.signal(pauseSignal);
      const progress = await progressWhen(handle, (p) => p.phase === 'paused', 60);
      assert.equal(progress.phase, 'paused');
      assert.equal(progress.paused, true);
      // Nothing moves while paused.
      await new Promise((r) => setTimeout(r, 1500));
      const later = await handle.query(progressQuery);
      assert.equal(later.phase, 'paused');
      assert.equal(later.membersTrained, progress.membersTrained);
      assert.equal(later.subsetSize, 30);

      await assert.rejects(handle.executeUpdate(setTargetsUpdate, { args: [[90, 60]] }), (err: Error) =>
        /setTargets refused: targets\.1: targets must be strictly ascending/.test(
          `${err.message} ${(err.cause as Error | undefined)?.message}`,
        ),
      );
      assert.deepEqual(await handle.executeUpdate(setTargetsUpdate, { args: [[60, 75]] }), [60, 75]);
      assert.deepEqual((await handle.query(progressQuery)).targets, [60, 75]);
      await handle.signal(unpauseSignal);
      return handle.result();
    });
    assert.deepEqual(
      result.evaluations.map((e) => e.size),
      [60, 75],
    );
    assert.deepEqual(
      result.rounds.map((r) => r.added),
      [30, 15],
    );
  });

  it('restart: a search terminated mid-way goes on from its last round, losing no completed round', async () => {
    const config: SearchConfigInput = {
      ...tiny,
      initialSize: 30,
      targets: [60, 90],
      acquisition: { step: 30 },
      evaluation: { randomBaseline: false, fullBaseline: false },
    };
    const workflowId = `resume-${randomUUID()}`;
    const { resumed, firstEvaluation } = await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      const handle = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [config],
      });
      // Wait for round 1 (the run after the first continue-as-new), then kill the search.
      const progress = await progressWhen(handle, (p) => p.round >= 1, 120);
      assert.equal(progress.round, 1);
      const firstEvaluation = progress.evaluations[0];
      await handle.terminate('simulated loss of the search');
      await assert.rejects(restartFailedSearch(env.client, `${workflowId}-never-existed`));
      const resumed = await restartFailedSearch(env.client, workflowId);
      return { resumed, firstEvaluation };
    });
    assert.equal(resumed.round, 1);
    const result = await withWorkers(env, ['orchestrator', 'gpu'], () =>
      env.client.workflow.getHandle<typeof subsetSearch>(resumed.workflowId).result(),
    );
    assert.deepEqual(
      result.evaluations.map((e) => e.size),
      [60, 90],
    );
    assert.deepEqual(result.evaluations[0], firstEvaluation, 'the completed round-0 evaluation is carried, not redone');
    assert.equal(result.searchId, workflowId, 'artifacts stay in the original search folder');
    await assert.rejects(
      restartFailedSearch(env.client, resumed.workflowId),
      /is COMPLETED; only a failed, terminated, timed-out or cancelled search can be restarted/,
    );
  });

  it('stop after the current round still evaluates the subset it reached', async () => {
    const config: SearchConfigInput = {
      ...tiny,
      initialSize: 30,
      targets: [90],
      acquisition: { step: 20 },
      evaluation: { randomBaseline: false, fullBaseline: false },
    };
    const result = await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      const handle = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId: `stop-${randomUUID()}`,
        args: [config],
      });
      await handle.signal(stopAfterRoundSignal);
      return handle.result();
    });
    assert.equal(result.rounds.length, 1);
    assert.deepEqual(
      result.evaluations.map((e) => e.size),
      [50],
    );
  });

  it('fails at once with InvalidConfig naming every bad field', async () => {
    const failure = await failureOf({
      dataset: { kind: 'imagenet-22k', size: -5 },
      targets: 'all',
      model: 42,
      ensemble: { members: 0 },
      colour: 'blue',
    });
    assert.equal(failure.type, 'InvalidConfig');
    assert.equal(failure.nonRetryable, true);
    for (const field of ['dataset.kind', 'dataset.size', 'targets', 'model', 'ensemble.members', 'colour']) {
      assert.match(
        failure.message,
        new RegExp(`(^|[ ;:(])${field.replace('.', '\\.')}:`),
        `message names ${field}: ${failure.message}`,
      );
    }
    assert.match(failure.message, /^invalid search config \(6 problems\)/);
  });

  it('rejects a missing dataset, a non-object input, and targets larger than the pool', async () => {
    const missing = await failureOf({ targets: [10] });
    assert.equal(missing.type, 'InvalidConfig');
    assert.match(missing.message, /dataset: /);

    const notAnObject = await failureOf('fashion-mnist');
    assert.match(notAnObject.message, /\(config\): .*object/);

    const tooLarge = await failureOf({ ...tiny, targets: [100, 5000] });
    assert.equal(tooLarge.type, 'InvalidConfig');
    assert.match(tooLarge.message, /targets\.1: 5000 is larger than the training set \(300 samples\)/);
  });

  it('refuses a storage root outside the worker’s root without writing anything', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'winnow-outside-'));
    try {
      const error = await failureOf({ ...tiny, targets: [60], storageRoot: outside });
      assert.equal(error.type, 'ForbiddenPath');
      assert.match(error.message, /outside the worker's storage root/);
      assert.equal(error.nonRetryable, true);
      assert.deepEqual(readdirSync(outside), []);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
