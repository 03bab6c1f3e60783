/**
 * Replays the recorded histories of test/replay/histories/ (written by
 * test/replay/record-histories.ts on earlier code) against today's workflow
 * code: a change that would break a running search (other commands, in
 * another order) fails here with a DeterminismViolationError.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { repoRoot } from '../../infra/tools';
import { installQuietRuntime, workflowBundle } from '../helpers/temporal';
import { versionedBundle } from '../helpers/workflow-versions';

installQuietRuntime();
const folder = path.join(repoRoot(), 'test', 'replay', 'histories');

function corpus(): { workflowId: string; history: temporal.api.history.v1.History }[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.binpb'))
    .sort()
    .map((f) => ({
      workflowId: decodeURIComponent(f.slice(0, f.indexOf('.'))),
      history: temporal.api.history.v1.History.decode(readFileSync(path.join(folder, f))),
    }));
}

describe('replay of recorded searches', () => {
  it('every recorded run replays on the current workflow code', async () => {
    const histories = corpus();
    // Build up over two runs, compress, a fan-out with its three children, a paused search.
    assert.ok(histories.length >= 8, `expected the recorded corpus in ${folder}, found ${histories.length} histories`);
    const replayed: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      assert.equal(result.error, undefined, `${result.workflowId} (run ${result.runId}): ${String(result.error)}`);
      replayed.push(result.workflowId);
    }
    assert.deepEqual(
      replayed,
      histories.map((h) => h.workflowId),
    );
  });

  it('fails on a history whose commands the code does not make', async () => {
    // The compress search's history with its first activity renamed: replay must see the mismatch.
    const original = corpus().find((h) => h.workflowId === 'replay-compress');
    assert.ok(original, 'replay-compress is in the corpus');
    const tampered = temporal.api.history.v1.History.decode(
      temporal.api.history.v1.History.encode(original.history).finish(),
    );
    const scheduled = tampered.events.find(
      (e) => e.activityTaskScheduledEventAttributes,
    )?.activityTaskScheduledEventAttributes;
    assert.ok(scheduled?.activityType, 'the history schedules an activity');
    scheduled.activityType.name = 'notAnActivityOfWinnow';
    const results = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, [
      { workflowId: 'replay-compress', history: tampered },
    ])) {
      results.push(r);
    }
    assert.equal(results.length, 1);
    assert.match(String(results[0].error), /nondetermin|Nondetermin/i);
  });

  it('the patched workflow changes are why the corpus replays: made without patched(), they break recorded searches', async () => {
    const histories = corpus();
    const failed: string[] = [];
    for await (const r of Worker.runReplayHistories(
      { workflowBundle: await versionedBundle('unversioned') },
      histories,
    )) {
      if (r.error !== undefined) {
        assert.match(String(r.error), /nondetermin/i, `${r.workflowId}: ${String(r.error)}`);
        failed.push(r.workflowId);
      }
    }
    // Every run that finished a round meets the new command where its history has none.
    // replay-fan-out recorded before the children overlapped meets them two at a time.
    for (const id of ['replay-build-up', 'replay-compress', 'replay-fan-out'])
      assert.ok(failed.includes(id), `${id} fails: ${failed.join(', ')}`);
    // The previous release's code (every patch on its old branch) replays what was recorded before the
    // patches, and refuses what today's code recorded (a patch marker it has no branch for): no rollbacks past a patch.
    const marked = (h: (typeof histories)[number]) => h.history.events.some((e) => e.markerRecordedEventAttributes);
    assert.ok(histories.some(marked) && histories.some((h) => !marked(h)), 'the corpus holds histories of both');
    // Results come in corpus order; one search id may have been recorded before and after a patch.
    let i = 0;
    for await (const r of Worker.runReplayHistories(
      { workflowBundle: await versionedBundle('before-patches') },
      histories,
    )) {
      const recordedAfter = marked(histories[i++]!);
      if (recordedAfter) assert.match(String(r.error), /patch marker/i, `${r.workflowId}: ${String(r.error)}`);
      else assert.equal(r.error, undefined, `${r.workflowId} on the code before the patches: ${String(r.error)}`);
    }
  });
});
