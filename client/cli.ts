#!/usr/bin/env node
/**
 * `winnow`: start, watch, steer and export subset searches from a shell.
 * Connection from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TLS / API key) or --address / --namespace. Exit codes: see `exitCodes`.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { parseSubsetManifest } from '../domain/acquisition/subset-manifest';
import { defaultStorageRoot } from '../domain/storage/roots';
import { openStore } from '../domain/storage/open-store';
import { connectionSettings } from '../infra/env';
import { ConfigFlagError, buildConfig } from './cli/config-flags';
import { progressLines } from './cli/progress-view';
import { exportFormats, formatFromPath, formatSubset, type ExportFormat } from './cli/subset-export';
import { writeGallery } from './report/write-gallery';
import { connectClient, workflowUiUrl } from './connection';
import { writeReport } from './report/write-report';
import { formatResultTable } from './result-table';
import {
  describeSearch,
  getProgress,
  InvalidSearchConfig,
  listSearches,
  NoWorkerAnswered,
  InvalidReacquireRequest,
  pauseSearch,
  reacquire,
  restartSearch,
  SearchNotFound,
  setSearchTargets,
  startSearch,
  stopSearchAfterRound,
  unpauseSearch,
} from './search-client';
import { loadSearchRecord, SearchNotUsable, type SearchRecord } from './search-record';
import type { ReacquireRequest } from '../contracts/reacquire-request';

export const exitCodes = {
  ok: 0,
  /** The search failed, or the server refused the operation. */
  failed: 1,
  /** Bad command line or config. */
  usage: 2,
  /** No such search. */
  notFound: 3,
  /** No Temporal server at the address, or no worker answered. */
  unreachable: 4,
} as const;

class UsageError extends Error {}

const usage = `winnow: training-data subset search by ensemble active learning

usage: winnow <command> [options]

commands
  start [--config FILE] [flags]    start a search; prints its id and UI link
        flags: --dataset KIND --dataset-uri URI --targets N,N,.. --function F
               --step N --members N --epochs N --scheme build-up|compress
               --seed N --search-id ID --set path=value (repeatable)
               --id WORKFLOW_ID  --watch (follow it until it ends)
  status [ID] [--limit N]          one search (progress, or result table), or recent searches
  watch ID [--interval S]          live progress until the search ends
  pause ID                         pause after the step in flight
  unpause ID                       a paused search goes on
  restart ID [--id NEW_ID]         a failed, terminated or cancelled search starts
                                   again from its last completed round
  resume ID                        alias: unpause when running, restart otherwise
  stop ID                          finish after the current round (still evaluated)
  targets ID N,N,..                replace the remaining target sizes
  export ID [--size N] [--format json|csv|indices] [--out FILE] [--gallery DIR]
                                   a subset's indices (default: the largest evaluated);
                                   with --out, its lineage manifest goes to FILE.manifest.json
  report ID [--out FILE]           self-contained HTML report with plots
  reacquire ID --function F [--round R] [--size N]
                                   a finished round's subset selected again with another
                                   acquisition function from its stored accumulators
                                   (no rescoring); prints the new subset's URI

options for every command
  --json            machine-readable output on stdout
  --address HOST:PORT, --namespace NS   override TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE
  --ui URL          Temporal UI base for links (default WINNOW_UI_URL or http://localhost:8233)

exit codes: 0 ok, 1 search failed or operation refused, 2 bad usage or config,
            3 no such search, 4 Temporal server or worker unreachable`;

const options = {
  json: { type: 'boolean' },
  address: { type: 'string' },
  namespace: { type: 'string' },
  ui: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  config: { type: 'string' },
  dataset: { type: 'string' },
  'dataset-uri': { type: 'string' },
  targets: { type: 'string' },
  function: { type: 'string' },
  step: { type: 'string' },
  members: { type: 'string' },
  epochs: { type: 'string' },
  scheme: { type: 'string' },
  seed: { type: 'string' },
  'search-id': { type: 'string' },
  set: { type: 'string', multiple: true },
  id: { type: 'string' },
  watch: { type: 'boolean' },
  limit: { type: 'string' },
  interval: { type: 'string' },
  size: { type: 'string' },
  round: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  gallery: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

function positiveInt(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} ${raw}: expected a positive integer`);
  return n;
}

function needId(positionals: string[], command: string): string {
  const id = positionals[1];
  if (!id) throw new UsageError(`winnow ${command} needs a search's workflow id (see \`winnow status\`)`);
  return id;
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `--config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`--config ${file}: not valid JSON (${(err as Error).message})`);
  }
}

function uiBase(values: Values): string {
  return (values.ui ?? process.env.WINNOW_UI_URL ?? 'http://localhost:8233').replace(/\/+$/, '');
}

async function start(client: Client, values: Values, io: Io, namespace: string): Promise<number> {
  const fromFile = values.config === undefined ? undefined : readConfigFile(values.config);
  const config = buildConfig(fromFile, {
    dataset: values.dataset,
    datasetUri: values['dataset-uri'],
    targets: values.targets,
    function: values.function,
    step: values.step,
    members: values.members,
    epochs: values.epochs,
    scheme: values.scheme,
    seed: values.seed,
    searchId: values['search-id'],
    set: values.set,
  });
  const started = await startSearch(client, config, { workflowId: values.id });
  const link = workflowUiUrl(uiBase(values), namespace, started.workflowId);
  if (values.json)
    io.out(
      JSON.stringify({
        workflowId: started.workflowId,
        runId: started.runId,
        searchId: started.searchId,
        ui: link,
        config: started.config,
      }),
    );
  else
    io.out(
      `started search ${started.workflowId} (search id ${started.searchId})\n  watch: winnow watch ${started.workflowId}\n  UI:    ${link}`,
    );
  return values.watch ? watch(client, started.workflowId, values, io) : exitCodes.ok;
}

function recordSummary(record: SearchRecord): string {
  const lines = [`search ${record.workflowId} (${record.searchId}): ${record.status.toLowerCase()}`];
  if (record.progress) lines.push(...progressLines(record.progress).map((l) => `  ${l}`));
  if (record.result) lines.push('', formatResultTable(record.result));
  else if (record.evaluations.length > 0 && record.poolSize) {
    lines.push(
      '',
      formatResultTable({
        ...record,
        storageRoot: record.storageRoot ?? '',
        poolSize: record.poolSize,
        subsets: {},
        computeBackend: '',
      }),
    );
  }
  if (record.failure)
    lines.push(
      `  failure: ${record.failure}`,
      `  restart it from its last completed round: winnow restart ${record.workflowId}`,
    );
  return lines.join('\n');
}

async function status(client: Client, positionals: string[], values: Values, io: Io): Promise<number> {
  const id = positionals[1];
  if (id) {
    const record = await loadSearchRecord(client, id);
    if (values.json) io.out(JSON.stringify(record));
    else io.out(recordSummary(record));
    return record.status === 'COMPLETED' || record.status === 'RUNNING' ? exitCodes.ok : exitCodes.failed;
  }
  const searches = await listSearches(client, { limit: positiveInt('limit', values.limit, 20) });
  if (values.json) {
    io.out(JSON.stringify(searches));
    return exitCodes.ok;
  }
  if (searches.length === 0) {
    io.out('no searches yet: start one with `winnow start --dataset fashion-mnist --targets 4000,6000`');
    return exitCodes.ok;
  }
  const rows = searches.map((s) => [
    s.workflowId,
    s.status.toLowerCase(),
    s.dataset ?? '-',
    String(s.round ?? '-'),
    String(s.subsetSize ?? '-'),
    s.startTime.toISOString().replace('T', ' ').slice(0, 19),
  ]);
  const header = ['workflow id', 'status', 'dataset', 'round', 'subset', 'started (UTC)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows])
    io.out(
      row
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
  return exitCodes.ok;
}

async function watch(client: Client, workflowId: string, values: Values, io: Io): Promise<number> {
  const interval = positiveInt('interval', values.interval, 2);
  const tty = process.stdout.isTTY && !values.json;
  let printed = 0;
  let last = '';
  for (;;) {
    const summary = await describeSearch(client, workflowId);
    if (summary.status !== 'RUNNING') {
      const record = await loadSearchRecord(client, workflowId);
      if (values.json)
        io.out(JSON.stringify({ status: record.status, result: record.result, failure: record.failure }));
      else io.out(recordSummary(record));
      return record.status === 'COMPLETED' ? exitCodes.ok : exitCodes.failed;
    }
    const progress = await getProgress(client, workflowId).catch((err: unknown) => {
      if (err instanceof NoWorkerAnswered) io.err(`winnow: ${err.message}`);
      return undefined;
    });
    if (progress) {
      if (values.json) {
        io.out(JSON.stringify(progress));
      } else {
        const lines = progressLines(progress);
        const text = lines.join('\n');
        if (tty) {
          // Redraw the block in place.
          if (printed > 0) process.stdout.write(`\x1b[${printed}A\x1b[J`);
          io.out(text);
          printed = lines.length;
        } else if (text !== last) {
          io.out(`${new Date().toISOString().slice(11, 19)} ${lines.slice(0, 4).join(' | ')}`);
        }
        last = text;
      }
    }
    await new Promise((r) => setTimeout(r, interval * 1000));
  }
}

/** `unpause`: a paused search goes on. */
async function unpause(client: Client, workflowId: string, values: Values, io: Io): Promise<number> {
  const summary = await describeSearch(client, workflowId);
  if (summary.status !== 'RUNNING')
    throw new OperationRefused(
      `search ${workflowId} is ${summary.status.toLowerCase()}, not running; a failed search is restarted with \`winnow restart ${workflowId}\``,
    );
  await unpauseSearch(client, workflowId);
  if (values.json) io.out(JSON.stringify({ workflowId, action: 'unpaused' }));
  else io.out(`search ${workflowId}: unpause signal sent; it goes on after its pause`);
  return exitCodes.ok;
}

/** `restart`: a new search from a failed, terminated or cancelled one's last completed round. */
async function restart(client: Client, workflowId: string, values: Values, io: Io): Promise<number> {
  const summary = await describeSearch(client, workflowId);
  if (summary.status === 'RUNNING')
    throw new OperationRefused(
      `search ${workflowId} is running; nothing to restart (a paused one goes on with \`winnow unpause ${workflowId}\`)`,
    );
  if (summary.status === 'COMPLETED')
    throw new OperationRefused(`search ${workflowId} already completed; nothing to restart`);
  const restarted = await restartSearch(client, workflowId, values.id);
  if (values.json)
    io.out(
      JSON.stringify({ workflowId, action: 'restarted', newWorkflowId: restarted.workflowId, round: restarted.round }),
    );
  else
    io.out(
      `search ${workflowId} was ${summary.status.toLowerCase()}: restarted as ${restarted.workflowId} from round ${restarted.round} (completed rounds kept)`,
    );
  return exitCodes.ok;
}

/** `resume`, the name both had before: unpause a running search, restart any other. */
async function resume(client: Client, workflowId: string, values: Values, io: Io): Promise<number> {
  const summary = await describeSearch(client, workflowId);
  return summary.status === 'RUNNING'
    ? unpause(client, workflowId, values, io)
    : restart(client, workflowId, values, io);
}

class OperationRefused extends Error {}

function storeRootOf(record: SearchRecord): string {
  return record.storageRoot ?? record.config.storageRoot ?? defaultStorageRoot();
}

async function exportSubset(client: Client, workflowId: string, values: Values, io: Io): Promise<number> {
  if (values.gallery !== undefined) return exportGallery(client, workflowId, values.gallery, values, io);
  const format = (values.format ?? (values.out ? formatFromPath(values.out) : undefined) ?? 'json') as ExportFormat;
  if (!exportFormats.includes(format))
    throw new UsageError(`--format ${values.format}: use one of ${exportFormats.join(', ')}`);
  const record = await loadSearchRecord(client, workflowId);
  const sizes = record.evaluations.map((e) => e.size);
  if (sizes.length === 0)
    throw new SearchNotUsable(
      workflowId,
      'no subset has been evaluated yet; wait for the first target size (see `winnow status`)',
    );
  const size = values.size === undefined ? Math.max(...sizes) : positiveInt('size', values.size, 0);
  const row = record.evaluations.find((e) => e.size === size);
  if (!row)
    throw new UsageError(`--size ${size}: no evaluated subset of that size; evaluated sizes: ${sizes.join(', ')}`);
  const store = openStore(storeRootOf(record));
  const text = (await store.get(row.subsetUri)).toString('utf8');
  const manifest = parseSubsetManifest(text, row.subsetUri);
  const body = formatSubset(
    {
      searchId: record.searchId,
      size,
      poolSize: manifest.poolSize,
      manifestUri: row.subsetUri,
      indices: manifest.indices,
      lineage: manifest.lineage,
    },
    format,
  );
  if (!values.out) {
    process.stdout.write(body);
    return exitCodes.ok;
  }
  const out = path.resolve(values.out);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, body);
  await writeFile(`${out}.manifest.json`, text);
  if (values.json) io.out(JSON.stringify({ path: out, manifest: `${out}.manifest.json`, size, format }));
  else io.out(`wrote ${size} indices (${format}) to ${out}\nlineage manifest: ${out}.manifest.json`);
  return exitCodes.ok;
}

/** Each scored round's most and least uncertain candidates as PNG files, with gallery.json. */
async function exportGallery(client: Client, workflowId: string, dir: string, values: Values, io: Io): Promise<number> {
  const record = await loadSearchRecord(client, workflowId);
  const rounds = [...new Set(record.rounds.map((r) => r.round))].sort((a, b) => a - b);
  const out = path.resolve(dir);
  const files = await writeGallery({
    store: openStore(storeRootOf(record)),
    searchId: record.searchId,
    config: record.config,
    evaluations: record.evaluations,
    rounds,
    dir: out,
  }).catch((err: unknown) => {
    throw new SearchNotUsable(workflowId, (err as Error).message);
  });
  if (values.json) io.out(JSON.stringify({ path: out, files: files.length, rounds }));
  else io.out(`wrote ${files.length} gallery images of rounds ${rounds.join(', ')} to ${out} (list in gallery.json)`);
  return exitCodes.ok;
}

async function report(client: Client, workflowId: string, values: Values, io: Io): Promise<number> {
  const record = await loadSearchRecord(client, workflowId);
  const outputPath = path.resolve(values.out ?? path.join('state', 'reports', `${record.searchId}.html`));
  const written = record.result
    ? await writeReport({ result: record.result, outputPath, numClasses: record.result.numClasses })
    : await writeReport({
        progress: record.progress ?? {
          searchId: record.searchId,
          phase: 'done',
          round: record.rounds.length,
          subsetSize: record.rounds.at(-1)?.subsetSize ?? 0,
          poolSize: record.poolSize,
          targets: record.config.targets,
          membersTrained: 0,
          members: record.config.ensemble.members,
          shardsScored: 0,
          shards: 0,
          rounds: record.rounds,
          evaluations: record.evaluations,
          full: record.full,
          paused: false,
          stopping: false,
          updatedAt: new Date().toISOString(),
        },
        config: record.config,
        storageRoot: storeRootOf(record),
        numClasses: record.numClasses,
        outputPath,
      });
  if (values.json) io.out(JSON.stringify({ path: written, status: record.status }));
  else io.out(`report of ${record.workflowId} (${record.status.toLowerCase()}): ${written}`);
  return exitCodes.ok;
}

/** `reacquire`: a finished round selected again with another function, from the accumulators its scoring kept. */
async function reacquireRound(client: Client, workflowId: string, values: Values, io: Io): Promise<number> {
  if (values.function === undefined)
    throw new UsageError(
      'winnow reacquire ID --function F: name the new acquisition function (e.g. --function mutual-information)',
    );
  let round: number | undefined;
  if (values.round !== undefined) {
    round = Number(values.round);
    if (!Number.isInteger(round) || round < 0)
      throw new UsageError(`--round ${values.round}: expected a round number (0, 1, ..)`);
  }
  const size = values.size === undefined ? undefined : positiveInt('size', values.size, 0);
  const record = await loadSearchRecord(client, workflowId);
  const storageRoot = record.storageRoot ?? record.config.storageRoot;
  const started = performance.now();
  const result = await reacquire(client, record.searchId, {
    function: values.function as ReacquireRequest['function'],
    ...(round !== undefined ? { round } : {}),
    ...(size !== undefined ? { size } : {}),
    ...(storageRoot !== undefined ? { storageRoot } : {}),
  });
  const seconds = (performance.now() - started) / 1000;
  if (values.json) {
    io.out(JSON.stringify({ workflowId, ...result, totalSeconds: seconds }));
    return exitCodes.ok;
  }
  const cutoff = result.cutoffScore === null ? 'none (nothing added)' : result.cutoffScore.toPrecision(6);
  io.out(
    [
      `search ${workflowId}, round ${result.round}: ${result.count} samples (${result.added} added) selected again with ${result.function} (the round used ${result.originalFunction})`,
      `  subset:       ${result.uri}`,
      `  cutoff score: ${cutoff}`,
      `  time:         ${result.seconds.toFixed(2)} s reading ${result.shards} accumulator shards (${seconds.toFixed(2)} s in all, no model run)`,
      `  round's own:  ${result.originalSubsetUri}`,
    ].join('\n'),
  );
  return exitCodes.ok;
}

async function dispatch(command: string, positionals: string[], values: Values, io: Io): Promise<number> {
  const settings = connectionSettings();
  if (values.address) settings.address = values.address;
  if (values.namespace) settings.namespace = values.namespace;
  let client: Client;
  try {
    client = await connectClient(settings);
  } catch (err) {
    throw new Unreachable(
      `cannot reach the Temporal server at ${settings.address} (${(err as Error).message}); start one with \`npm run server\` or set TEMPORAL_ADDRESS`,
    );
  }
  try {
    switch (command) {
      case 'start':
        return await start(client, values, io, settings.namespace);
      case 'status':
        return await status(client, positionals, values, io);
      case 'watch':
        return await watch(client, needId(positionals, command), values, io);
      case 'pause':
      case 'stop': {
        const id = needId(positionals, command);
        const summary = await describeSearch(client, id);
        if (summary.status !== 'RUNNING')
          throw new OperationRefused(`search ${id} is ${summary.status.toLowerCase()}, not running`);
        await (command === 'pause' ? pauseSearch(client, id) : stopSearchAfterRound(client, id));
        const what =
          command === 'pause'
            ? 'pauses after the step in flight'
            : 'finishes after the current round (its subset is still evaluated)';
        if (values.json) io.out(JSON.stringify({ workflowId: id, action: command }));
        else io.out(`search ${id} ${what}`);
        return exitCodes.ok;
      }
      case 'unpause':
        return await unpause(client, needId(positionals, command), values, io);
      case 'restart':
        return await restart(client, needId(positionals, command), values, io);
      case 'resume':
        return await resume(client, needId(positionals, command), values, io);
      case 'targets': {
        const id = needId(positionals, command);
        const raw = positionals[2];
        if (!raw) throw new UsageError('winnow targets ID N,N,..: give the new target sizes, ascending');
        const targets = raw.split(',').map((t) => {
          const n = Number(t.trim());
          if (!Number.isInteger(n) || n < 1) throw new UsageError(`targets: "${t}" is not a positive integer`);
          return n;
        });
        try {
          const now = await setSearchTargets(client, id, targets);
          if (values.json) io.out(JSON.stringify({ workflowId: id, targets: now }));
          else io.out(`search ${id}: targets now ${now.join(', ')}`);
          return exitCodes.ok;
        } catch (err) {
          if (err instanceof SearchNotFound) throw err;
          throw new OperationRefused((err as Error).message);
        }
      }
      case 'export':
        return await exportSubset(client, needId(positionals, command), values, io);
      case 'report':
        return await report(client, needId(positionals, command), values, io);
      case 'reacquire':
        return await reacquireRound(client, needId(positionals, command), values, io);
      default:
        throw new UsageError(`unknown command "${command}"; run \`winnow --help\``);
    }
  } finally {
    await client.connection.close();
  }
}

class Unreachable extends Error {}

/** Runs one command line; returns the exit code. Errors become one line on stderr. */
export async function runCli(
  argv: string[],
  io: Io = { out: (l) => console.log(l), err: (l) => console.error(l) },
): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`winnow: ${(err as Error).message}; run \`winnow --help\``);
    return exitCodes.usage;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    io.out(usage);
    return command === undefined && !values.help ? exitCodes.usage : exitCodes.ok;
  }
  try {
    return await dispatch(command, positionals, values, io);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code =
      err instanceof UsageError ||
      err instanceof ConfigFlagError ||
      err instanceof InvalidSearchConfig ||
      err instanceof InvalidReacquireRequest
        ? exitCodes.usage
        : err instanceof SearchNotFound
          ? exitCodes.notFound
          : err instanceof Unreachable || err instanceof NoWorkerAnswered
            ? exitCodes.unreachable
            : exitCodes.failed;
    if (values.json) io.out(JSON.stringify({ error: message, exitCode: code }));
    io.err(`winnow: ${message.replace(/\n/g, '\n  ')}`);
    return code;
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`winnow: ${(err as Error).message}`);
      process.exitCode = exitCodes.failed;
    },
  );
}
