/**
 * Graceful shutdown of a real winnow-gpu worker process: SIGTERM while a
 * member trains makes it save its position inside the epoch and exit within
 * the grace time; a new worker's retry resumes from exactly that position and
 * the search completes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TrainMemberProgress, TrainMemberResult } from '../../compute/tasks/train-member';
import { repoRoot } from '../../infra/tools';
import { subsetSearch } from '../../workflows';
import { artifactPaths } from '../../contracts/artifact-paths';
import type { SearchConfigInput } from '../../contracts/config';
import { TaskQueue } from '../../contracts/task-queues';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let storageDir: string;

before(async () => {
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-graceful-'));
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  rmSync(storageDir, { recursive: true, force: true });
});

function startGpuWorker(): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'workers', 'gpu.js')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      WINNOW_STORAGE_ROOT: storageDir,
      WINNOW_SHUTDOWN_GRACE_SECONDS: '60',
      WINNOW_LOG_LEVEL: 'WARN',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

describe('graceful shutdown of the gpu worker', () => {
  it('SIGTERM mid-epoch: the member saves its position, the worker exits, and the retry resumes there', async () => {
    const workflowId = `graceful-${randomUUID()}`;
    const searchId = `graceful-${randomUUID().slice(0, 8)}`;
    // One member, batches of 4 on 400 samples: 100 steps per epoch, so a stop lands inside an epoch.
    const config: SearchConfigInput = {
      dataset: { kind: 'synthetic', uri: 'synthetic:?seed=6&shape=12x12x1&classes=4&test=100', size: 600 },
      modelWidth: 0.25,
      training: { epochs: 3, batchSize: 4, learningRate: 0.002 },
      ensemble: { members: 1, checkpointEpochs: [3] },
      initialSize: 400,
      targets: [450],
      acquisition: { function: 'entropy', step: 50 },
      evaluation: { repeats: 1, randomBaseline: false, fullBaseline: false },
      shardSize: 300,
      searchId,
    };
    const memberKey = artifactPaths.member(searchId, 0, 0);
    const resumeFiles = artifactPaths
      .resumeSlots(memberKey)
      .map((slot) => path.join(storageDir, slot, 'checkpoint.json'));

    await withWorkers(env, ['orchestrator'], async () => {
      const handle = await env.client.workflow.start(subsetSearch, {
        taskQueue: TaskQueue.orchestrator,
        workflowId,
        args: [config],
      });
      const firstRunId = handle.firstExecutionRunId;
      const first = startGpuWorker();
      let exitCode: number | null = null;
      try {
        // Wait for the member's first epoch to be reported, then stop the worker while epoch 2 trains.
        let epoch = 0;
        for (let i = 0; i < 1200 && epoch < 1; i++) {
          await new Promise((r) => setTimeout(r, 100));
          const description = await handle.describe();
          const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'trainMember');
          const payload = pending?.heartbeatDetails?.payloads?.[0];
          if (payload) epoch = defaultPayloadConverter.fromPayload<TrainMemberProgress>(payload).epoch;
        }
        assert.equal(epoch, 1, `the member reported epoch 1; worker output:\n${first.output()}`);
        const stoppedAt = Date.now();
        const exited = once(first.child, 'exit');
        first.child.kill('SIGTERM');
        [exitCode] = (await exited) as [number | null];
        const seconds = (Date.now() - stoppedAt) / 1000;
        assert.equal(exitCode, 0, `clean exit; output:\n${first.output()}`);
        assert.ok(seconds < 60, `exited within the grace time (${seconds.toFixed(1)} s)`);
      } finally {
        if (exitCode === null) first.child.kill('SIGKILL');
      }

      type Meta = { meta: { epoch: number; within?: { batch: number } } };
      const states = resumeFiles.filter((f) => existsSync(f)).map((f) => JSON.parse(readFileSync(f, 'utf8')) as Meta);
      assert.ok(states.length > 0, 'a resume point was saved');
      // The newest of the two alternating slots.
      const saved = states.sort(
        (x, y) => y.meta.epoch - x.meta.epoch || (y.meta.within?.batch ?? 0) - (x.meta.within?.batch ?? 0),
      )[0];
      assert.ok(
        saved.meta.within && saved.meta.within.batch >= 1,
        `the position lies inside an epoch: ${JSON.stringify(saved.meta)}`,
      );
      assert.ok(
        saved.meta.epoch >= 1 && saved.meta.epoch < 3,
        `saved after epoch 1 and before the end: ${JSON.stringify(saved.meta)}`,
      );

      const second = startGpuWorker();
      try {
        const result = await handle.result();
        assert.deepEqual(
          result.evaluations.map((e) => e.size),
          [450],
        );
      } finally {
        second.child.kill('SIGTERM');
        await once(second.child, 'exit');
      }

      // The completed trainMember of round 0 (in the first run's history) started from the saved position.
      const history = await env.client.workflow.getHandle(workflowId, firstRunId).fetchHistory();
      const events = history.events ?? [];
      const memberActivity = new Set(
        events
          .filter((e) => {
            const payload = e.activityTaskScheduledEventAttributes?.input?.payloads?.[0];
            return (
              payload && defaultPayloadConverter.fromPayload<{ memberKey?: string }>(payload).memberKey === memberKey
            );
          })
          .map((e) => String(e.eventId)),
      );
      const completed = events.flatMap((e) => {
        const attributes = e.activityTaskCompletedEventAttributes;
        const payload = attributes?.result?.payloads?.[0];
        if (!payload || !memberActivity.has(String(attributes?.scheduledEventId))) return [];
        return [defaultPayloadConverter.fromPayload<TrainMemberResult>(payload)];
      });
      assert.equal(completed.length, 1, 'one trained member in round 0');
      assert.equal(completed[0].resumedFromEpoch, saved.meta.epoch);
      assert.equal(completed[0].resumedFromBatch, saved.meta.within.batch);
      assert.deepEqual(
        completed[0].history.map((h) => h.epoch),
        Array.from({ length: 3 - saved.meta.epoch }, (_, i) => saved.meta.epoch + 1 + i),
        'only the interrupted epoch and those after it were trained again',
      );
    });
  });
});
