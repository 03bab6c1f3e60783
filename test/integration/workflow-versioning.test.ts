/**
 * A code deploy in the middle of a search, on a real dev server: a compress
 * search starts on the previous release's workflow code (every patch in
 * workflows/patches.ts on its old branch), its workers stop right after it
 * finished its first target (the round step that has since changed), and
 * today's code takes over: it replays that step without the new command,
 * runs the rest with it, and the search ends with the subsets a search run
 * wholly on today's code finds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { SearchConfigInput } from '../../contracts/config';
import { TaskQueue } from '../../contracts/task-queues';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { openStore } from '../../domain/storage/open-store';
import { createGpuWorker, createOrchestratorWorker } from '../../workers/create-workers';
import type { SearchResult, subsetSearch } from '../../workflows';
import { progressQuery } from '../../workflows/definitions';
import { Patches } from '../../workflows/patches';
import { waitFor } from '../helpers/processes';
import { runAll, startDevServerEnv, workflowBundle } from '../helpers/temporal';
import { versionedBundle } from '../helpers/workflow-versions';

let env: TestWorkflowEnvironment;
let storageDir: string;

before(async () => {
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-versioning-'));
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  rmSync(storageDir, { recursive: true, force: true });
});

const config = (searchId: string): SearchConfigInput => ({
  searchId,
  dataset: { kind: 'synthetic', uri: 'synthetic:?seed=4&shape=12x12x1&classes=4&test=200', size: 300 },
  modelWidth: 0.25,
  training: { epochs: 2, batchSize: 32, learningRate: 0.003 },
  ensemble: { members: 2, checkpointEpochs: [1, 2] },
  shardSize: 128,
  scheme: 'compress',
  targets: [60, 120],
  evaluation: { randomBaseline: true, fullBaseline: false },
  seed: 2,
});

async function workersOn(bundle: WorkflowBundleWithSourceMap): Promise<Worker[]> {
  const common = { connection: env.nativeConnection, namespace: env.namespace ?? 'default' };
  return [await createOrchestratorWorker({ ...common, workflowBundle: bundle }), await createGpuWorker(common)];
}

function start(searchId: string): Promise<WorkflowHandle<typeof subsetSearch>> {
  return env.client.workflow.start<typeof subsetSearch>('subsetSearch', {
    taskQueue: TaskQueue.orchestrator,
    workflowId: searchId,
    args: [config(searchId)],
  });
}

async function subsets(result: SearchResult): Promise<Record<string, number[]>> {
  const store = openStore(pathToFileURL(storageDir).href);
  const out: Record<string, number[]> = {};
  for (const [size, uri] of Object.entries(result.subsets)) {
    const manifest = parseSubsetManifest((await store.get(uri)).toString('utf8'), uri);
    out[size] = [...manifest.indices].sort((a, b) => a - b);
  }
  return out;
}

describe('deploying workflow code while a search runs', () => {
  it('a search started on the previous release finishes on today’s code, with the same subsets', async () => {
    const handle = await runAll(await workersOn(await versionedBundle('before-patches')), async () => {
      const h = await start('versioned-deploy');
      // The first target is finished (evaluated, its round step run) on the old code: deploy now.
      await waitFor(
        'the first target to be evaluated on the previous release',
        async () => ((await h.query(progressQuery)).evaluations.length >= 1 ? true : undefined),
        120,
        100,
      );
      return h;
    });
    const oldEvents = (await handle.fetchHistory()).events ?? [];
    assert.ok(
      !oldEvents.some((e) => e.markerRecordedEventAttributes || e.workflowPropertiesModifiedEventAttributes),
      'the previous release recorded no patch marker and no memo',
    );
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'the search was still running at the deploy');

    const [deployed, reference] = await runAll(await workersOn(await workflowBundle()), async () => {
      const referenceHandle = await start('versioned-reference');
      return Promise.all([handle.result(), referenceHandle.result()]);
    });
    assert.deepEqual(
      await subsets(deployed),
      await subsets(reference),
      'same subsets as a search wholly on today’s code',
    );

    const events = (await handle.fetchHistory()).events ?? [];
    const markers = events.filter((e) => e.markerRecordedEventAttributes);
    assert.equal(markers.length, 1, 'one patch marker: the second target’s step, run on today’s code');
    const patchId = markers[0].markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0];
    assert.equal((defaultPayloadConverter.fromPayload(patchId!) as { id: string }).id, Patches.roundMemo);
    const memo = await handle.describe();
    assert.deepEqual(
      (memo.memo?.lastRound as { subsetSize: number } | undefined)?.subsetSize,
      120,
      'the new round step ran for the second target',
    );
    const firstMarker = events.indexOf(markers[0]);
    assert.ok(firstMarker > oldEvents.length, 'the marker comes after the events the old code wrote');
  });
});
