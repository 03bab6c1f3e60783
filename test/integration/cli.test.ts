/**
 * The `winnow` CLI against a real dev server and real workers: every
 * subcommand, its --json output, its exit codes, and bad input.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parseSubsetManifest } from '../../domain/acquisition/subset-manifest';
import { exitCodes, runCli } from '../../client/cli';
import { progressQuery, type SearchProgress } from '../../workflows/definitions';
import type { SearchConfigInput } from '../../contracts/config';
import { freePort } from '../helpers/ports';
import { startDevServerEnv, withWorkers } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let dir: string;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'winnow-cli-'));
  process.env.WINNOW_STORAGE_ROOT = path.join(dir, 'store');
  env = await startDevServerEnv();
});

after(async () => {
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

interface Ran {
  code: number;
  out: string;
  err: string;
}

async function winnow(...args: string[]): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...args, '--address', env.address], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const tiny = {
  dataset: { kind: 'synthetic', uri: 'synthetic:?seed=5&shape=12x12x1&classes=4&test=100', size: 240 },
  modelWidth: 0.25,
  training: { epochs: 1, batchSize: 32, learningRate: 0.003 },
  ensemble: { members: 1, checkpointEpochs: [1] },
  evaluation: { repeats: 1, randomBaseline: true, fullBaseline: false },
  shardSize: 120,
} satisfies Partial<SearchConfigInput>;

function configFile(name: string, config: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

async function progressOf(id: string, done: (p: SearchProgress) => boolean): Promise<SearchProgress> {
  const handle = env.client.workflow.getHandle(id);
  for (let i = 0; i < 600; i++) {
    const p = await handle.query(progressQuery).catch(() => undefined);
    if (p && done(p)) return p;
    await new Promise((r) => setTimeout(r, 100));
  }
  return handle.query(progressQuery);
}

describe('winnow CLI', () => {
  it('refuses bad input with one clear line and the documented exit codes', async () => {
    const missing = await winnow('start', '--config', path.join(dir, 'nope.json'));
    assert.equal(missing.code, exitCodes.usage);
    assert.match(missing.err, /--config .*nope\.json: cannot read it \(ENOENT\)/);

    writeFileSync(path.join(dir, 'broken.json'), '{"dataset": ');
    const broken = await winnow('start', '--config', path.join(dir, 'broken.json'));
    assert.equal(broken.code, exitCodes.usage);
    assert.match(broken.err, /broken\.json: not valid JSON/);

    const invalid = await winnow(
      'start',
      '--dataset',
      'imagenet-22k',
      '--targets',
      '100,50',
      '--set',
      'training.epochs=-1',
      '--json',
    );
    assert.equal(invalid.code, exitCodes.usage);
    assert.match(invalid.err, /dataset\.kind/);
    assert.match(invalid.err, /targets\.1: targets must be strictly ascending/);
    assert.match(invalid.err, /training\.epochs/);
    assert.equal(JSON.parse(invalid.out).exitCode, exitCodes.usage);

    assert.equal((await winnow('start', '--targets', '10,x')).code, exitCodes.usage);
    assert.equal((await winnow('frobnicate')).code, exitCodes.usage);
    assert.equal((await winnow('pause')).code, exitCodes.usage);

    const unknown = await winnow('status', `no-such-search-${randomUUID()}`);
    assert.equal(unknown.code, exitCodes.notFound);
    assert.match(unknown.err, /no search with workflow id/);

    const port = await freePort();
    const out: string[] = [];
    const err: string[] = [];
    const unreachable = await runCli(['status', '--address', `127.0.0.1:${port}`], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    });
    assert.equal(unreachable, exitCodes.unreachable);
    assert.match(err.join('\n'), /cannot reach the Temporal server at 127\.0\.0\.1:\d+/);
  });

  it('start, watch, status, export in three formats, report; a completed search cannot be paused', async () => {
    const id = `cli-${randomUUID().slice(0, 8)}`;
    const file = configFile('search.json', {
      ...tiny,
      initialSize: 40,
      targets: [80],
      acquisition: { function: 'entropy', step: 40 },
    });
    await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      const started = await winnow('start', '--config', file, '--set', 'seed=7', '--id', id, '--json');
      assert.equal(started.code, exitCodes.ok, started.err);
      const startedJson = JSON.parse(started.out) as { workflowId: string; ui: string; config: { seed: number } };
      assert.equal(startedJson.workflowId, id);
      assert.equal(startedJson.config.seed, 7, '--set applied over the file');
      assert.match(startedJson.ui, new RegExp(`/namespaces/default/workflows/${id}$`));

      const watched = await winnow('watch', id, '--interval', '1');
      assert.equal(watched.code, exitCodes.ok, watched.err);
      assert.match(watched.out, /completed/);
      assert.match(watched.out, /subset size\s+fraction\s+AL \(entropy\)\s+random/);
    });

    const status = await winnow('status', id, '--json');
    assert.equal(status.code, exitCodes.ok);
    const record = JSON.parse(status.out) as { status: string; evaluations: { size: number; subsetUri: string }[] };
    assert.equal(record.status, 'COMPLETED');
    assert.deepEqual(
      record.evaluations.map((e) => e.size),
      [80],
    );

    const listed = await winnow('status');
    assert.equal(listed.code, exitCodes.ok);
    assert.match(listed.out, new RegExp(`${id}\\s+completed\\s+synthetic\\s+1\\s+80`));

    const csv = path.join(dir, 'out', 'subset.csv');
    const exported = await winnow('export', id, '--out', csv);
    assert.equal(exported.code, exitCodes.ok, exported.err);
    const manifest = parseSubsetManifest(readFileSync(`${csv}.manifest.json`, 'utf8'));
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(rows[0], 'index');
    assert.deepEqual(rows.slice(1).map(Number), [...manifest.indices]);
    assert.equal(new Set(rows.slice(1)).size, 80, '80 distinct indices');
    assert.equal(manifest.lineage.acquisitionFunction, 'entropy');

    const txt = path.join(dir, 'out', 'subset.txt');
    assert.equal((await winnow('export', id, '--size', '80', '--out', txt)).code, exitCodes.ok);
    assert.deepEqual(readFileSync(txt, 'utf8').trim().split('\n').map(Number), [...manifest.indices]);
    const json = path.join(dir, 'out', 'subset.json');
    assert.equal((await winnow('export', id, '--format', 'json', '--out', json)).code, exitCodes.ok);
    const asJson = JSON.parse(readFileSync(json, 'utf8')) as {
      indices: number[];
      lineage: { round: number };
      size: number;
    };
    assert.deepEqual(asJson.indices, [...manifest.indices]);
    assert.equal(asJson.lineage.round, 1);
    const badSize = await winnow('export', id, '--size', '81', '--out', json);
    assert.equal(badSize.code, exitCodes.usage);
    assert.match(badSize.err, /--size 81: no evaluated subset of that size; evaluated sizes: 80/);

    const galleryDir = path.join(dir, 'out', 'gallery');
    const gallery = await winnow('export', id, '--gallery', galleryDir, '--json');
    assert.equal(gallery.code, exitCodes.ok, gallery.err);
    const listing = JSON.parse(readFileSync(path.join(galleryDir, 'gallery.json'), 'utf8')) as {
      files: { round: number; side: string; file: string; index: number; score: number }[];
    };
    assert.equal(JSON.parse(gallery.out).files, listing.files.length);
    assert.ok(listing.files.length > 0 && listing.files.every((f) => f.round === 0), 'one scored round');
    const most = listing.files.filter((f) => f.side === 'most');
    const least = listing.files.filter((f) => f.side === 'least');
    assert.ok(most.length > 0 && most.length === least.length);
    assert.ok(most[0]!.score >= least[0]!.score, 'the most uncertain scores at least the least uncertain');
    // Round 0 scored the candidates outside its starting subset, the final subset's parent.
    const parent = manifest.lineage.parentManifestUri!;
    const start = parseSubsetManifest(readFileSync(fileURLToPath(parent), 'utf8'));
    assert.ok(
      listing.files.every((f) => !start.indices.includes(f.index)),
      'never a sample already in the subset it was scored against',
    );
    assert.deepEqual(
      [...readFileSync(path.join(galleryDir, most[0]!.file)).subarray(1, 4)]
        .map((b) => String.fromCharCode(b))
        .join(''),
      'PNG',
    );

    const reportPath = path.join(dir, 'out', 'report.html');
    const reported = await winnow('report', id, '--out', reportPath, '--json');
    assert.equal(reported.code, exitCodes.ok, reported.err);
    const html = readFileSync(JSON.parse(reported.out).path as string, 'utf8');
    assert.ok((html.match(/<svg/g) ?? []).length >= 3, 'the report holds its plots');
    assert.ok(html.includes(id), 'the report names the search');

    const pauseDone = await winnow('pause', id);
    assert.equal(pauseDone.code, exitCodes.failed);
    assert.match(pauseDone.err, /is completed, not running/);
    assert.equal((await winnow('resume', id)).code, exitCodes.failed);
    const unpauseDone = await winnow('unpause', id);
    assert.equal(unpauseDone.code, exitCodes.failed);
    assert.match(unpauseDone.err, /is completed, not running/);
    const restartDone = await winnow('restart', id);
    assert.equal(restartDone.code, exitCodes.failed);
    assert.match(restartDone.err, /already completed; nothing to restart/);
  });

  it('pause, unpause, targets and stop steer a running search; restart starts a terminated one again', async () => {
    const id = `cli-steer-${randomUUID().slice(0, 8)}`;
    const file = configFile('steer.json', {
      ...tiny,
      initialSize: 30,
      targets: [60, 90, 120],
      acquisition: { function: 'margin', step: 30 },
      evaluation: { repeats: 1, randomBaseline: false, fullBaseline: false },
    });
    // The orchestrator alone: the search waits on the GPU queue while it is steered.
    await withWorkers(env, ['orchestrator'], async () => {
      assert.equal((await winnow('start', '--config', file, '--id', id)).code, exitCodes.ok);
      await progressOf(id, (p) => p.phase === 'training');
      const paused = await winnow('pause', id);
      assert.equal(paused.code, exitCodes.ok, paused.err);
      assert.match(paused.out, /pauses after the step in flight/);
      assert.equal((await progressOf(id, (p) => p.paused)).paused, true);

      const refused = await winnow('targets', id, '90,60');
      assert.equal(refused.code, exitCodes.failed);
      assert.match(refused.err, /strictly ascending/);
      const changed = await winnow('targets', id, '60,90', '--json');
      assert.equal(changed.code, exitCodes.ok, changed.err);
      assert.deepEqual(JSON.parse(changed.out).targets, [60, 90]);

      const unpaused = await winnow('unpause', id, '--json');
      assert.equal(unpaused.code, exitCodes.ok);
      assert.equal(JSON.parse(unpaused.out).action, 'unpaused');
      const notFailed = await winnow('restart', id);
      assert.equal(notFailed.code, exitCodes.failed);
      assert.match(notFailed.err, /is running; nothing to restart/);
      assert.equal((await progressOf(id, (p) => !p.paused)).paused, false);

      const status = await winnow('status', id);
      assert.match(status.out, /members\s+\[\.+\] 0\/1 trained/);
      assert.match(status.out, /targets 60, 90/);

      // Terminate it mid-round, then restart: a new search from its last state.
      await env.client.workflow.getHandle(id).terminate('test: simulated failure');
      const restarted = await winnow('restart', id, '--id', `${id}-again`, '--json');
      assert.equal(restarted.code, exitCodes.ok, restarted.err);
      assert.equal(JSON.parse(restarted.out).newWorkflowId, `${id}-again`);
      const stop = await winnow('stop', `${id}-again`);
      assert.equal(stop.code, exitCodes.ok, stop.err);
      assert.equal((await progressOf(`${id}-again`, (p) => p.stopping)).stopping, true);
    });
    await withWorkers(env, ['orchestrator', 'gpu'], async () => {
      const watched = await winnow('watch', `${id}-again`, '--interval', '1', '--json');
      assert.equal(watched.code, exitCodes.ok, watched.err);
      const final = JSON.parse(watched.out.trim().split('\n').at(-1) as string) as {
        status: string;
        result: { evaluations: { size: number }[] };
      };
      assert.equal(final.status, 'COMPLETED');
      // Stopped after its first round: one evaluation, at 60.
      assert.deepEqual(
        final.result.evaluations.map((e) => e.size),
        [60],
      );
    });
  });
});
