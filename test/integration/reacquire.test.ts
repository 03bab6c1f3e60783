/**
 * Reacquire on a real dev server: a 1-round entropy search keeps its
 * accumulators; reacquireSubset (client, UI-style workflow start, CLI)
 * selects the round again with mutual information, and the subset equals the
 * one from rescoring the round's checkpoints with mutual information and
 * acquiring with the round's k, parent and seed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ApplicationFailure } from '@temporalio/common';
import { applicationFailureOf } from '../helpers/failures';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { exitCodes, runCli } from '../../client/cli';
import { reacquire, ReacquireFailed } from '../../client/search-client';
import { scoreShard } from '../../compute/tasks/score-shard';
import { artifactPaths } from '../../contracts/artifact-paths';
import type { SearchConfigInput } from '../../contracts/config';
import { FailureType } from '../../contracts/failures';
import { TaskQueue } from '../../contracts/task-queues';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { acquireSubset } from '../../domain/acquisition/subset-steps';
import { openStore } from '../../domain/storage/open-store';
import type { ArtifactStore } from '../../domain/storage/store';
import { reacquireSubset, subsetSearch, type SearchResult } from '../../workflows';
import { deriveSeed, poolShards } from '../../workflows/search-plan';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let storageDir: string;
let store: ArtifactStore;

before(async () => {
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-reacquire-'));
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  store = openStore(pathToFileURL(storageDir).href);
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  rmSync(storageDir, { recursive: true, force: true });
});

const poolSize = 300;
const shardSize = 128;
const config = {
  dataset: { kind: 'synthetic', uri: 'synthetic:?seed=4&shape=12x12x1&classes=4&test=100', size: poolSize },
  modelWidth: 0.25,
  training: { epochs: 2, batchSize: 32, learningRate: 0.003 },
  ensemble: { members: 2, checkpointEpochs: [1, 2] },
  shardSize,
  seed: 3,
  initialSize: 30,
  targets: [60],
  acquisition: { function: 'entropy', step: 30 },
  evaluation: { repeats: 1, randomBaseline: false, fullBaseline: false },
} satisfies SearchConfigInput;

async function readSubset(uri: string) {
  return parseSubsetManifest((await store.get(uri)).toString('utf8'), uri);
}

/** Round 0 scored again from its checkpoints with `fn`, then acquired with the round's k, parent and seed. */
async function rescored(searchId: string, fn: 'mutual-information'): Promise<{ indices: number[]; cutoff: number }> {
  const storageRoot = store.root;
  const { checkpoints } = JSON.parse(
    (await store.get(`${artifactPaths.round(searchId, 0)}/ensemble.json`)).toString('utf8'),
  ) as { checkpoints: string[] };
  assert.equal(checkpoints.length, 4, '2 members x 2 checkpoints');
  const scoreShards: string[] = [];
  for (const shard of poolShards(poolSize, shardSize)) {
    const scored = await scoreShard(
      {
        storageRoot,
        dataset: config.dataset,
        start: shard.start,
        count: shard.count,
        checkpoints,
        function: fn,
        seed: 0,
        outputKey: `rescored/${searchId}/${fn}/shard-${shard.index}`,
      },
      () => undefined,
    );
    scoreShards.push(scored.uri);
  }
  const subset = await acquireSubset({
    storageRoot,
    key: `rescored/${searchId}/${fn}/subset.json`,
    ensembleKey: `rescored/${searchId}/${fn}/ensemble.json`,
    checkpoints,
    scoreShards,
    parentSubsetUri: store.uriOf(artifactPaths.subset(searchId, 0)),
    k: 30,
    poolSize,
    seed: deriveSeed(config.seed, 0, 3),
    fingerprint: 'rescored',
    function: fn,
    round: 1,
  });
  return { indices: [...(await readSubset(subset.uri)).indices], cutoff: subset.cutoffScore! };
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...args, '--address', env.address], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('reacquire on a real dev server', () => {
  let workflowId: string;
  let result: SearchResult;

  before(async () => {
    workflowId = `reacquire-search-${randomUUID().slice(0, 8)}`;
    result = await withWorkers(env, ['orchestrator', 'gpu'], () =>
      env.client.workflow.execute(subsetSearch, { taskQueue: TaskQueue.orchestrator, workflowId, args: [config] }),
    );
  });

  it('selects round 0 again with mutual information: the subset rescoring with it gives, with no model run', async () => {
    assert.equal(result.rounds.length, 1);
    const original = await readSubset(result.subsets['60']);
    assert.equal(original.lineage.acquisitionFunction, 'entropy');
    const accumulators = await store.list(`${artifactPaths.round(result.searchId, 0)}/accumulators/`);
    assert.equal(accumulators.length, 3, 'one accumulator per pool shard');

    // Only the orchestrator worker: reacquire needs no GPU worker.
    const again = await withWorkers(env, ['orchestrator'], () =>
      reacquire(env.client, result.searchId, { function: 'mutual-information' }),
    );
    assert.equal(again.round, 0);
    assert.equal(again.count, 60);
    assert.equal(again.added, 30);
    assert.equal(again.originalFunction, 'entropy');
    assert.equal(again.originalSubsetUri, result.subsets['60']);
    assert.equal(again.uri, store.uriOf(artifactPaths.reacquiredSubset(result.searchId, 1, 'mutual-information')));
    assert.ok(again.seconds < 10, `reacquire took ${again.seconds} s`);
    const subset = await readSubset(again.uri);
    assert.equal(subset.lineage.acquisitionFunction, 'mutual-information');
    assert.equal(subset.lineage.reacquiredFrom, store.uriOf(artifactPaths.accumulators(result.searchId, 0)));
    assert.equal(subset.lineage.parentManifestUri, original.lineage.parentManifestUri);
    assert.equal(subset.lineage.ensembleManifestUri, original.lineage.ensembleManifestUri);

    const fromScratch = await rescored(result.searchId, 'mutual-information');
    assert.deepEqual([...subset.indices], fromScratch.indices, 'reacquired = rescored with mutual information');
    assert.ok(
      Math.abs(again.cutoffScore! - fromScratch.cutoff) <= 1e-6,
      `cutoff ${again.cutoffScore} vs ${fromScratch.cutoff}`,
    );
    assert.notDeepEqual([...subset.indices], [...original.indices], 'mutual information picks other samples');
  });

  it('starts from one JSON object (as the UI sends it) and fails clearly on bad input', async () => {
    const { searchId } = result;
    const failure = async (input: unknown): Promise<ApplicationFailure> => {
      const err = await withWorkers(env, ['orchestrator'], () =>
        env.client.workflow.execute(reacquireSubset, {
          taskQueue: TaskQueue.orchestrator,
          workflowId: `reacquire-bad-${randomUUID()}`,
          args: [input],
        }),
      ).then(
        () => assert.fail('expected the workflow to fail'),
        (e: unknown) => e,
      );
      return applicationFailureOf(err);
    };
    const ok = await withWorkers(env, ['orchestrator'], () =>
      env.client.workflow.execute(reacquireSubset, {
        taskQueue: TaskQueue.orchestrator,
        workflowId: `reacquire-ui-${randomUUID()}`,
        args: [{ searchId, round: 0, function: 'variation-ratios', size: 90 }],
      }),
    );
    assert.equal(ok.count, 90);
    assert.equal(ok.uri, store.uriOf(artifactPaths.reacquiredSubset(searchId, 1, 'variation-ratios', 90)));

    const bad = await failure({ searchId, function: 'bald', rounds: 2 });
    assert.equal(bad.type, FailureType.InvalidConfig);
    assert.match(bad.message, /invalid reacquire request \(2 problems\)/);
    assert.match(bad.message, /rounds: unknown field/);
    assert.match(bad.message, /function: /);
    const random = await failure({ searchId, function: 'random' });
    assert.match(random.message, /function: random uses no ensemble/);
    const noRound = await failure({ searchId, round: 4, function: 'margin' });
    assert.equal(noRound.type, FailureType.InvalidConfig);
    assert.match(noRound.message, /round 4 has no stored accumulators/);

    await assert.rejects(
      withWorkers(env, ['orchestrator'], () => reacquire(env.client, searchId, { function: 'margin', round: 4 })),
      (err: unknown) => err instanceof ReacquireFailed && /round 4 has no stored accumulators/.test(err.message),
    );
  });

  it('a search with keepAccumulators false keeps none, and reacquire says so', async () => {
    const lean = await withWorkers(env, ['orchestrator', 'gpu'], () =>
      env.client.workflow.execute(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId: `reacquire-lean-${randomUUID().slice(0, 8)}`,
        args: [
          {
            ...config,
            training: { ...config.training, epochs: 1 },
            ensemble: { members: 1, checkpointEpochs: [1] },
            acquisition: { ...config.acquisition, keepAccumulators: false },
          },
        ],
      }),
    );
    assert.equal((await readSubset(lean.subsets['60'])).count, 60);
    assert.deepEqual(await store.list(`${artifactPaths.round(lean.searchId, 0)}/accumulators`), []);
    await assert.rejects(
      withWorkers(env, ['orchestrator'], () => reacquire(env.client, lean.searchId, { function: 'margin' })),
      (err: unknown) =>
        err instanceof ReacquireFailed && /search .* has no round with stored accumulators/.test(err.message),
    );
  });

  it('`winnow reacquire` prints the new subset, its size, cutoff and time', async () => {
    const ran = await withWorkers(env, ['orchestrator'], () => cli('reacquire', workflowId, '--function', 'margin'));
    assert.equal(ran.code, exitCodes.ok, ran.err);
    const uri = store.uriOf(artifactPaths.reacquiredSubset(result.searchId, 1, 'margin'));
    assert.match(ran.out, /round 0: 60 samples \(30 added\) selected again with margin \(the round used entropy\)/);
    assert.ok(ran.out.includes(`subset:       ${uri}`), ran.out);
    assert.match(ran.out, /cutoff score: 0\.\d+/);
    assert.match(ran.out, /time: +\d+\.\d+ s reading 3 accumulator shards/);
    assert.equal((await readSubset(uri)).lineage.acquisitionFunction, 'margin');

    const json = await withWorkers(env, ['orchestrator'], () =>
      cli('reacquire', workflowId, '--function', 'least-confidence', '--round', '0', '--json'),
    );
    assert.equal(json.code, exitCodes.ok, json.err);
    const parsed = JSON.parse(json.out) as { uri: string; count: number; function: string };
    assert.equal(parsed.count, 60);
    assert.equal(parsed.function, 'least-confidence');

    const noFunction = await cli('reacquire', workflowId);
    assert.equal(noFunction.code, exitCodes.usage);
    assert.match(noFunction.err, /--function F: name the new acquisition function/);
    const badFunction = await cli('reacquire', workflowId, '--function', 'bald');
    assert.equal(badFunction.code, exitCodes.usage);
    assert.match(badFunction.err, /invalid reacquire request .*function/);
    const noSearch = await cli('reacquire', 'no-such-search', '--function', 'margin');
    assert.equal(noSearch.code, exitCodes.notFound);
  });
});
