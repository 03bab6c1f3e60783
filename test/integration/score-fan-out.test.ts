/**
 * Scoring fan-out: with more shards than `shardsPerChild`, each round scores
 * through scorePoolShards child workflows; the subsets are exactly those of
 * the same search scored inline, and the round's own history stays small.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { reacquireSubset } from '../../domain/acquisition/reacquire';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { openStore } from '../../domain/storage/open-store';
import { subsetSearch } from '../../workflows';
import type { SearchConfigInput } from '../../contracts/config';
import { TaskQueue } from '../../contracts/task-queues';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let storageDir: string;

before(async () => {
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-fan-out-'));
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  rmSync(storageDir, { recursive: true, force: true });
});

const base = {
  dataset: { kind: 'synthetic', uri: 'synthetic:?seed=9&shape=12x12x1&classes=4&test=100', size: 300 },
  modelWidth: 0.25,
  training: { epochs: 1, batchSize: 32, learningRate: 0.003 },
  ensemble: { members: 1, checkpointEpochs: [1] },
  initialSize: 40,
  targets: [70],
  acquisition: { function: 'entropy', step: 30 },
  evaluation: { repeats: 1, randomBaseline: false, fullBaseline: false },
  // 300 samples in shards of 40: 8 shards.
  shardSize: 40,
  scoringWindow: 2,
  seed: 3,
} satisfies SearchConfigInput;

async function indicesOf(uri: string): Promise<number[]> {
  const manifest = parseSubsetManifest((await openStore(storageDir).get(uri)).toString('utf8'), uri);
  return [...manifest.indices];
}

describe('scoring fan-out through child workflows', () => {
  it('scores in groups of shardsPerChild and acquires exactly what inline scoring acquires', async () => {
    const inlineId = `inline-${randomUUID()}`;
    const fannedId = `fanned-${randomUUID()}`;
    const { inline, fanned } = await withWorkers(
      env,
      ['orchestrator', 'gpu'],
      async () => {
        const inline = await env.client.workflow.execute(subsetSearch, {
          taskQueue: TaskQueue.orchestrator,
          workflowId: inlineId,
          args: [{ ...base, searchId: 'inline' }],
        });
        const fanned = await env.client.workflow.execute(subsetSearch, {
          taskQueue: TaskQueue.orchestrator,
          workflowId: fannedId,
          args: [{ ...base, searchId: 'fanned', shardsPerChild: 3 }],
        });
        return { inline, fanned };
      },
      2,
    );
    assert.deepEqual(await indicesOf(fanned.subsets['70']), await indicesOf(inline.subsets['70']));
    assert.equal((await indicesOf(fanned.subsets['70'])).length, 70);

    // One round (40 -> 70), one run: it started ceil(8 / 3) = 3 children, two at a time.
    const history = await env.client.workflow.getHandle(fannedId).fetchHistory();
    const started = (history.events ?? []).filter((e) => e.childWorkflowExecutionStartedEventAttributes);
    const childIds = started.map((e) => e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId);
    assert.deepEqual(
      [...childIds].sort(),
      [0, 1, 2].map((g) => `${fannedId}/round-0/scores-${g}`),
    );
    const events = history.events ?? [];
    const at = (id: string, kind: 'started' | 'completed'): number =>
      events.findIndex(
        (e) =>
          (kind === 'started'
            ? e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId
            : e.childWorkflowExecutionCompletedEventAttributes?.workflowExecution?.workflowId) === id,
      );
    const group = (g: number) => `${fannedId}/round-0/scores-${g}`;
    assert.ok(at(group(1), 'started') >= 0 && at(group(0), 'completed') >= 0);
    assert.ok(at(group(1), 'started') < at(group(0), 'completed'), 'the second child starts before the first ends');
    assert.ok(at(group(2), 'started') > Math.min(at(group(0), 'completed'), at(group(1), 'completed')), 'two at most');
    for (const id of childIds) {
      const child = await env.client.workflow.getHandle(id as string).describe();
      assert.equal(child.status.name, 'COMPLETED');
      assert.equal(child.type, 'scorePoolShards');
    }
    const inlineHistory = await env.client.workflow.getHandle(inlineId).fetchHistory();
    assert.equal(
      (inlineHistory.events ?? []).filter((e) => e.childWorkflowExecutionStartedEventAttributes).length,
      0,
      'inline scoring starts no child',
    );

    // Shards scored in the children kept their accumulators too: both searches can be acquired again, alike.
    const again = await Promise.all(
      ['inline', 'fanned'].map((searchId) => reacquireSubset({ searchId, function: 'mutual-information' })),
    );
    assert.deepEqual(
      again.map((r) => r.shards),
      [8, 8],
    );
    assert.deepEqual(await indicesOf(again[1].uri), await indicesOf(again[0].uri));
  });
});
