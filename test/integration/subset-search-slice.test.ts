/**
 * The first end-to-end slice against a real Temporal dev server: both workers,
 * the one-object config, the progress query, search attributes, the manifest
 * artifact, and InvalidConfig failures that name every bad field.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { subsetSearch } from '../../workflows';
import { progressQuery } from '../../workflows/definitions';
import { WinnowDataset, WinnowStatus } from '../../workflows/search-attributes';
import { TaskQueue } from '../../workflows/task-queues';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let storageDir: string;

before(async () => {
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-slice-'));
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  rmSync(storageDir, { recursive: true, force: true });
});

const validConfig = { dataset: { kind: 'synthetic', size: 1000 }, targets: [100, 200] };

/** sum(A A^T) = sum_k (sum_i A_ik)^2 for the probe's 64x64 linspace matrix, computed without tfjs. */
function expectedProbeChecksum(): number {
  const n = 64;
  let total = 0;
  for (let k = 0; k < n; k++) {
    let column = 0;
    for (let i = 0; i < n; i++) column += -1 + (2 * (i * n + k)) / (n * n - 1);
    total += column * column;
  }
  return total;
}

async function failureOf(input: unknown): Promise<ApplicationFailure> {
  const error = await withWorkers(env, ['orchestrator', 'gpu'], () =>
    env.client.workflow.execute(subsetSearch, { taskQueue: TaskQueue.orchestrator, workflowId: `bad-${randomUUID()}`, args: [input] }),
  ).then(
    () => assert.fail('the workflow should have failed'),
    (err: unknown) => err,
  );
  assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
  // An activity's failure arrives wrapped in an ActivityFailure: take the first ApplicationFailure down the chain.
  let cause: unknown = error.cause;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
  assert.ok(cause instanceof ApplicationFailure, `expected an ApplicationFailure in the cause chain, got ${String(error.cause)}`);
  return cause;
}

describe('subsetSearch slice on a real dev server', () => {
  it('waits on winnow-gpu, answers progress, then completes with a manifest and search attributes', async () => {
    const workflowId = `Slice Search ${randomUUID()}`;
    // Only the orchestrator polls at first: the workflow must park on the GPU queue.
    const handle = await withWorkers(env, ['orchestrator'], async () => {
      const h = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [validConfig],
      });
      let progress = await h.query(progressQuery);
      for (let i = 0; i < 100 && progress.phase !== 'probing-compute'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        progress = await h.query(progressQuery);
      }
      assert.equal(progress.phase, 'probing-compute');
      assert.equal(progress.computeBackend, undefined);
      return h;
    });

    // Queries on a closed workflow are answered by replaying it on a worker, so keep them running.
    const { result, progress, description } = await withWorkers(env, ['orchestrator', 'gpu'], async () => ({
      result: await handle.result(),
      progress: await handle.query(progressQuery),
      description: await handle.describe(),
    }));

    assert.equal(result.searchId, workflowId.toLowerCase().replace(/ /g, '-'));
    assert.equal(result.config.model, 'cnn-small', 'defaults are filled in');
    assert.equal(result.config.ensemble.members, 4);
    assert.ok(['tfjs-node-gpu', 'tfjs-node', 'wasm'].includes(result.compute.backend));
    assert.notEqual(result.compute.pid, process.pid, 'the tensor work ran in a child process');
    const expected = expectedProbeChecksum();
    assert.ok(Math.abs(result.compute.checksum - expected) < 1e-3 * expected, `checksum ${result.compute.checksum} vs ${expected}`);

    assert.equal(result.manifest.uri, `${pathToFileURL(storageDir).href}/${result.searchId}/search.json`);
    const stored = readFileSync(fileURLToPath(result.manifest.uri));
    assert.equal(createHash('sha256').update(stored).digest('hex'), result.manifest.sha256);
    const manifest = JSON.parse(stored.toString()) as { workflowId: string; config: { dataset: { kind: string } } };
    assert.equal(manifest.workflowId, workflowId);
    assert.equal(manifest.config.dataset.kind, 'synthetic');

    assert.equal(progress.phase, 'done');
    assert.equal(progress.computeBackend, result.compute.backend);

    assert.equal(description.typedSearchAttributes.get(WinnowStatus), 'completed');
    assert.equal(description.typedSearchAttributes.get(WinnowDataset), 'synthetic');
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
      assert.match(failure.message, new RegExp(`(^|[ ;:(])${field.replace('.', '\\.')}:`), `message names ${field}: ${failure.message}`);
    }
    assert.match(failure.message, /^invalid search config \(6 problems\)/);
  });

  it('rejects a missing dataset and a non-object input with readable messages', async () => {
    const missing = await failureOf({ targets: [10] });
    assert.equal(missing.type, 'InvalidConfig');
    assert.match(missing.message, /dataset: /);

    const notAnObject = await failureOf('fashion-mnist');
    assert.equal(notAnObject.type, 'InvalidConfig');
    assert.match(notAnObject.message, /\(config\): .*object/);
  });

  it('refuses a storage root outside the worker’s root without writing anything', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'winnow-outside-'));
    try {
      const error = await failureOf({ ...validConfig, storageRoot: outside });
      assert.equal(error.type, 'ForbiddenPath');
      assert.match(error.message, /outside the worker's storage root/);
      assert.equal(error.nonRetryable, true);
      assert.deepEqual(readdirSync(outside), []);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
