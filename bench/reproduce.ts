/**
 * Reproduces the paper's phenomenon on Fashion-MNIST through the real
 * workflow (build-up and compress searches against random subsets and the
 * full set); profiles, resumability and outputs: docs/benchmarks.md, "Reproduce".
 *
 *   npm run bench:reproduce -- --quick | --medium | --full | --calibrate
 *   options: --no-ablations  --all-ablations  --only=entropy,compress  --concurrency=N  --slots=N
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import { runInChild } from '../compute/run-child';
import { DEBIAN_DATASETS_DIR } from '../domain/data/data-roots';
import { FASHION_MNIST_DEFAULT_DIR } from '../domain/data/open-dataset';
import { parseSubsetManifest } from '../domain/acquisition/subset-manifest';
import { openDataset } from '../domain/data';
import { defaultStorageRoot } from '../domain/storage/roots';
import { openStore } from '../domain/storage/open-store';
import { renderSvg } from '../client/report/charts';
import { writeReport } from '../client/report/write-report';
import { repoRoot } from '../infra/tools';
import type { SearchResult } from '../workflows/subset-search';
import { metricName, modelLabel } from '../contracts/config';
import { machineLine } from './machine';
import { gitInfo, runSearch, watchProgress, withBenchWorkers, withLimit } from './search-runner';
import { prepareFashionMnistPrefix } from './reproduce-data';
import {
  estimateSeconds,
  experimentWorkflowId,
  parsedConfig,
  profileOf,
  profileWork,
  trainingEquivalents,
  type Experiment,
  type Profile,
  profileNames,
  type ProfileName,
  type Work,
} from './reproduce-plan';
import {
  accuracyPlotSpec,
  buildResultTable,
  classCounts,
  formatBalanceTable,
  formatMarkdownTable,
  RANDOM_SERIES,
  type ClassBalance,
  type ExperimentOutcome,
} from './reproduce-table';

interface Args {
  profile?: ProfileName;
  calibrate: boolean;
  withoutAblations: boolean;
  allAblations: boolean;
  only?: string[];
  concurrency?: number;
  slots: number;
  /** The search seed of every experiment (seeded profiles); results go to `<profile>-seed-<N>` unless 0. */
  seed?: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { calibrate: false, withoutAblations: false, allAblations: false, slots: 2 };
  for (const a of argv) {
    if ((profileNames as readonly string[]).includes(a.slice(2)) && a.startsWith('--'))
      args.profile = a.slice(2) as ProfileName;
    else if (a === '--calibrate') args.calibrate = true;
    else if (a === '--no-ablations') args.withoutAblations = true;
    else if (a === '--all-ablations') args.allAblations = true;
    else if (a.startsWith('--only=')) args.only = a.slice(7).split(',').filter(Boolean);
    else if (a.startsWith('--concurrency=')) args.concurrency = positiveInt(a);
    else if (a.startsWith('--slots=')) args.slots = positiveInt(a);
    else if (a.startsWith('--seed=')) {
      args.seed = Number(a.slice('--seed='.length));
      if (!Number.isInteger(args.seed) || args.seed < 0) throw new Error(`${a}: the seed is a non-negative integer`);
    } else
      throw new Error(
        `unknown argument ${a}; use --quick, --medium, --full, --detection, --convergence or --transfer, optionally --no-ablations or --all-ablations, --only=a,b, --concurrency=N, --slots=N, --seed=N (detection, convergence, transfer); or --calibrate`,
      );
  }
  if (!args.profile && !args.calibrate)
    throw new Error(
      'say which profile: --quick (under 30 minutes here), --medium (the whole set at equal compute, 78 min here), --full (hours on CPU), --detection (generated scenes, under an hour here), --convergence (early stopping on held-out training samples) or --transfer (subsets evaluated with a 4x wider model); the last three take --seed=N',
    );
  return args;
}

function positiveInt(arg: string): number {
  const n = Number(arg.slice(arg.indexOf('=') + 1));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${arg}: expected a positive integer`);
  return n;
}

const resultsRoot = path.join(repoRoot(), 'bench', 'results');
const stateDir = path.join(repoRoot(), 'state', 'reproduce');
const sourceDir = process.env.WINNOW_FASHION_MNIST_DIR ?? FASHION_MNIST_DEFAULT_DIR;

function log(line: string): void {
  console.log(`[reproduce] ${new Date().toISOString().slice(11, 19)} ${line}`);
}

/** The quick profile's pool folder; the workers must be allowed to read it. */
function prepareData(profile: Profile): string | undefined {
  if (!profile.prefixData) return undefined;
  const dir = path.join(stateDir, 'data', `fashion-mnist-first-${profile.trainSamples}-${profile.testSamples}`);
  prepareFashionMnistPrefix(sourceDir, dir, profile.trainSamples, profile.testSamples);
  const roots = process.env.WINNOW_DATA_ROOTS?.trim()
    ? [process.env.WINNOW_DATA_ROOTS]
    : [
        DEBIAN_DATASETS_DIR,
        os.tmpdir(),
        ...(defaultStorageRoot().startsWith('file://') ? [fileURLToPath(defaultStorageRoot())] : []),
      ];
  process.env.WINNOW_DATA_ROOTS = [...roots, dir].join(path.delimiter);
  return dir;
}

/** One experiment to its result: reuse, await, start or resume its search. */
async function runExperiment(
  client: Client,
  profile: Profile,
  experiment: Experiment,
  inFlight: Map<string, string>,
): Promise<ExperimentOutcome> {
  const baseId = experimentWorkflowId(profile.name, experiment);
  const outcome = await runSearch(client, { name: experiment.name, baseId, config: experiment.config }, inFlight, log);
  return { experiment, ...outcome };
}

interface RunRecord {
  startedAt: string;
  /** `git rev-parse HEAD` when the run started, and how many paths `git status` listed as changed. */
  commit: string;
  uncommittedChanges: number;
  wallSeconds: number;
  command: string;
  machine: string;
  loadAverageAtEnd: number[];
  /** How each experiment's result came about in this invocation. */
  how: Record<string, string>;
  /** Training-equivalent samples of the experiments this invocation ran from scratch. */
  work?: Work;
}

interface Calibration {
  measuredAt: string;
  machine: string;
  samples: number;
  /** Marginal training images/s per profile model: (extra epochs x samples) / (time of the long run - time of the 1-epoch run), best of 2 each, so child start and data loading cancel out. */
  imagesPerSecond: Record<string, number>;
  /** How much slower one sample trains on the full profile's model than on the quick one's. */
  fullOverQuick: number;
}

const calibrationFile = path.join(resultsRoot, 'calibration.json');

/** Trains each profile's model on the same samples and compares their speed (for the full profile's estimate). */
async function calibrate(): Promise<void> {
  const quick = profileOf('quick');
  const dataDir = prepareData(quick)!;
  const storage = path.join(stateDir, 'calibration');
  mkdirSync(storage, { recursive: true });
  process.env.WINNOW_STORAGE_ROOT = storage;
  const longEpochs = 5;
  const speeds: Record<string, number> = {};
  for (const name of ['quick', 'full'] as const) {
    const config = parsedConfig(profileOf(name).experiments[0]);
    const seconds = async (epochs: number): Promise<number> => {
      const times: number[] = [];
      for (let rep = 0; rep < 2; rep++) {
        const started = Date.now();
        await runInChild('trainMember', {
          storageRoot: pathToFileURL(storage).href,
          dataset: { kind: 'fashion-mnist', uri: dataDir },
          model: { name: config.model, width: config.modelWidth },
          training: { ...config.training, epochs },
          subsetUri: null,
          memberKey: `calibration/${name}-${epochs}-${Date.now()}`,
          checkpointEpochs: [epochs],
          seed: rep + 1,
          context: `calibration, ${name} model`,
        });
        times.push((Date.now() - started) / 1000);
      }
      return Math.min(...times);
    };
    const short = await seconds(1);
    const long = await seconds(longEpochs);
    speeds[name] = ((longEpochs - 1) * quick.trainSamples) / (long - short);
    log(
      `${name} model (${config.model}, width ${config.modelWidth}): 1 epoch ${short.toFixed(1)} s, ${longEpochs} epochs ${long.toFixed(1)} s: ${speeds[name].toFixed(0)} images/s per extra epoch`,
    );
  }
  const calibration: Calibration = {
    measuredAt: new Date().toISOString(),
    machine: machineLine(),
    samples: quick.trainSamples,
    imagesPerSecond: speeds,
    fullOverQuick: speeds.quick / speeds.full,
  };
  mkdirSync(resultsRoot, { recursive: true });
  writeFileSync(calibrationFile, `${JSON.stringify(calibration, null, 2)}\n`);
  log(
    `full model / quick model time per sample: ${calibration.fullOverQuick.toFixed(2)}; written to ${path.relative(repoRoot(), calibrationFile)}`,
  );
  log(machineLine());
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.calibrate) {
    await calibrate();
    if (!args.profile) return;
  }
  const profileName = args.profile!;
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  // A private compile (e.g. --outDir state/reproduce/dist, safe from others' builds into dist/) is named as run.
  const script = path.relative(repoRoot(), process.argv[1] ?? '');
  const command =
    script === path.join('dist', 'bench', 'reproduce.js')
      ? `npm run bench:reproduce -- ${process.argv.slice(2).join(' ')}`
      : `node ${script} ${process.argv.slice(2).join(' ')}`;
  const git = gitInfo();
  process.env.WINNOW_STORAGE_ROOT ??= path.join(stateDir, 'artifacts');
  const dataDir = prepareData(profileOf(profileName));
  const profile = profileOf(profileName, {
    datasetUri: dataDir,
    withoutAblations: args.withoutAblations,
    allAblations: args.allAblations,
    seed: args.seed,
  });
  const experiments = args.only ? profile.experiments.filter((e) => args.only!.includes(e.name)) : profile.experiments;
  if (experiments.length === 0)
    throw new Error(
      `--only=${args.only?.join(',')} names no experiment of ${profileName}; known: ${profile.experiments.map((e) => e.name).join(', ')}`,
    );
  experiments.forEach(parsedConfig);
  const machine = machineLine();
  log(machine);
  log(
    `profile ${profileName}: ${experiments.length} searches, pool ${profile.trainSamples}, test ${profile.testSamples}, ${args.concurrency ?? profile.concurrency} at once, ${args.slots} training slots`,
  );

  const inFlight = new Map<string, string>();
  const outcomes = await withBenchWorkers(
    { dbFile: path.join(repoRoot(), 'state', 'reproduce.db'), slots: args.slots, log },
    async (client) => {
      const timer = watchProgress(client, inFlight, started, log);
      try {
        return await withLimit(
          args.concurrency ?? profile.concurrency,
          experiments.map((e) => () => runExperiment(client, profile, e, inFlight)),
        );
      } finally {
        clearInterval(timer);
      }
    },
  );
  const wallSeconds = (Date.now() - started) / 1000;
  await writeResults(profile, outcomes, {
    startedAt,
    ...git,
    wallSeconds,
    command,
    machine,
    loadAverageAtEnd: os.loadavg(),
    how: Object.fromEntries(outcomes.map((o) => [o.experiment.name, o.how ?? 'failed'])),
  });
  const failed = outcomes.filter((o) => !o.result);
  if (failed.length > 0) {
    for (const o of failed) console.error(`[reproduce] ${o.experiment.name} did not finish: ${o.error ?? 'failed'}`);
    process.exitCode = 1;
  }
}

interface ResultsFile {
  profile: ProfileName;
  /** Every invocation, oldest first; the numbers come from the searches of the last one that started them all. */
  runs: RunRecord[];
  experiments: {
    name: string;
    label: string;
    role: string;
    switch?: string;
    workflowId: string;
    error?: string;
    result?: Omit<SearchResult, 'subsets'>;
  }[];
  /** Samples per class of each evaluated subset: size -> experiment (or "random subset") -> counts. */
  classBalance: ClassBalance;
  estimate?: { fullProfileSeconds: number; basis: string };
}

/** Class counts of every evaluated subset and of the random subsets (read back from the store); empty when unreadable. */
async function classBalanceOf(outcomes: ExperimentOutcome[]): Promise<ClassBalance> {
  const balance: ClassBalance = {};
  const finished = outcomes.filter((o) => o.result);
  if (finished.length === 0) return balance;
  const spec = finished[0].result!.config.dataset;
  // Detection subsets have no single label per sample to count.
  if ('format' in spec) return balance;
  try {
    const dataset = await openDataset(spec);
    const labels = await dataset.readLabels('train');
    for (const o of finished) {
      const r = o.result!;
      const store = openStore(r.storageRoot);
      const add = async (size: number, name: string, uri: string): Promise<void> => {
        const manifest = parseSubsetManifest((await store.get(uri)).toString('utf8'), uri);
        (balance[size] ??= {})[name] = classCounts(manifest.indices, labels, dataset.info.numClasses);
      };
      for (const e of r.evaluations) {
        await add(e.size, o.experiment.name, e.subsetUri);
        if (e.random) await add(e.size, RANDOM_SERIES, `${r.searchId}/eval/size-${e.size}/random-subset.json`);
      }
    }
  } catch (err) {
    log(`class balance not available: ${(err as Error).message}`);
  }
  return balance;
}

/**
 * Where the time went: the run that started every search of the profile, or
 * else each run that started some of them (the searches were spread over
 * several invocations, later ones reusing what earlier ones finished).
 */
function wallTimeLine(runs: RunRecord[], complete: RunRecord | undefined, run: RunRecord, profile: Profile): string {
  const minutes = (r: RunRecord) => `${(r.wallSeconds / 60).toFixed(1)} min`;
  if (complete) {
    const total = `${minutes(complete)} for all ${profile.experiments.length} searches`;
    return complete === run
      ? total
      : `${total} (run of ${startedAtLabel(complete)}; this invocation took ${minutes(run)} and reused finished searches)`;
  }
  // Each search counts for the latest run that started it (the results come from that run).
  const startedBy = new Map<RunRecord, string[]>();
  for (const e of profile.experiments) {
    const by = [...runs].reverse().find((r) => r.how[e.name] === 'started');
    if (by) startedBy.set(by, [...(startedBy.get(by) ?? []), e.name]);
  }
  const parts = runs
    .filter((r) => startedBy.has(r))
    .map(
      (r) =>
        `${minutes(r)} for ${startedBy.get(r)!.join(', ')} (run of ${startedAtLabel(r)}, commit ${r.commit.slice(0, 7)}${r.uncommittedChanges > 0 ? ' + uncommitted changes' : ''})`,
    );
  return parts.length > 0
    ? `the searches were run in parts: ${parts.join('; ')}`
    : `${minutes(run)} (every search reused)`;
}

async function writeResults(profile: Profile, outcomes: ExperimentOutcome[], run: RunRecord): Promise<void> {
  const dir = path.join(resultsRoot, profile.resultsName ?? profile.name);
  mkdirSync(path.join(dir, 'reports'), { recursive: true });
  const previous = readJson<ResultsFile>(path.join(dir, 'results.json'));
  const fresh = outcomes.length === profile.experiments.length && outcomes.every((o) => o.how === 'started');
  if (fresh) run.work = profileWork(profile);
  const runs = [...(previous?.profile === profile.name ? previous.runs : []), run];

  const main = buildResultTable(outcomes, 'main');
  const entropy = outcomes.filter((o) => o.experiment.name === 'entropy');
  const ablation = buildResultTable([...entropy, ...outcomes.filter((o) => o.experiment.role === 'ablation')], 'all');
  const backend = outcomes.find((o) => o.result)?.result?.computeBackend ?? 'unknown';
  const pool = outcomes.find((o) => o.result)?.result?.poolSize ?? profile.trainSamples;

  const balance = await classBalanceOf(outcomes);
  const plotFile = path.join(dir, 'accuracy.svg');
  const task = parsedConfig(profile.experiments[0]).task;
  const metric = metricName(task);
  const repeats = parsedConfig(profile.experiments[0]).evaluation.repeats;
  const spread = repeats > 1 ? `mean ± std of ${repeats} models` : 'one model per cell';
  const spec = accuracyPlotSpec(
    main,
    `${task === 'detection' ? 'Generated detection scenes' : 'Fashion-MNIST'}, ${pool} training samples (${profile.name} profile): ${metric}, ${spread}`,
  );
  if (spec) writeFileSync(plotFile, await renderSvg(spec));

  for (const o of outcomes) {
    if (!o.result) continue;
    await writeReport({
      result: o.result,
      outputPath: path.join(dir, 'reports', `${o.experiment.name}.html`),
      numClasses: o.result.numClasses,
    });
  }

  // The estimate needs a run that did all the quick profile's work, and the model speed ratio from --calibrate.
  let estimate: ResultsFile['estimate'];
  // The latest run that did all its profile's work at the time (its work is recorded with it).
  const measured = [...runs].reverse().find((r) => r.work);
  // A run that started every search the profile has now (the profile may have grown since): the wall time to quote.
  const complete = [...runs]
    .reverse()
    .find((r) => r.work && profile.experiments.every((e) => r.how[e.name] === 'started'));
  const calibration = readJson<Calibration>(calibrationFile);
  if (profile.name === 'quick' && measured?.work && calibration) {
    const full = profileOf('full');
    const fullWork = profileWork(full);
    const mainOnly = profileWork(
      full,
      full.experiments.filter((e) => e.role === 'main'),
    );
    const seconds = estimateSeconds(
      { work: measured.work, seconds: measured.wallSeconds },
      fullWork,
      calibration.fullOverQuick,
    );
    const mainSeconds = estimateSeconds(
      { work: measured.work, seconds: measured.wallSeconds },
      mainOnly,
      calibration.fullOverQuick,
    );
    const perSample = (1000 * measured.wallSeconds) / trainingEquivalents(measured.work);
    estimate = {
      fullProfileSeconds: seconds,
      basis:
        `quick run of ${startedAtLabel(measured)}: ${(measured.wallSeconds / 60).toFixed(1)} min for ${(trainingEquivalents(measured.work) / 1e6).toFixed(2)} M training-equivalent samples ` +
        `(${perSample.toFixed(2)} ms each, all overheads included); the full profile is ${(trainingEquivalents(fullWork) / 1e6).toFixed(1)} M ` +
        `(${(trainingEquivalents(mainOnly) / 1e6).toFixed(1)} M without ablations, about ${(mainSeconds / 3600).toFixed(1)} h), ` +
        `and one sample of its model costs ${calibration.fullOverQuick.toFixed(2)}x the quick model's (--calibrate, ${calibration.measuredAt.slice(0, 10)})`,
    };
  }

  const file: ResultsFile = {
    profile: profile.name,
    runs,
    experiments: outcomes.map((o) => {
      const { subsets: _subsets, ...result } = o.result ?? ({} as SearchResult);
      return {
        name: o.experiment.name,
        label: o.experiment.label,
        role: o.experiment.role,
        switch: o.experiment.switch,
        workflowId: o.workflowId,
        error: o.error,
        result: o.result ? result : undefined,
      };
    }),
    classBalance: balance,
    estimate,
  };
  writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify(file, null, 1)}\n`);

  const config =
    outcomes.find((o) => o.experiment.name === 'entropy')?.result?.config ?? parsedConfig(profile.experiments[0]);
  const timed = complete ?? run;
  const md = [
    `# Subset search on ${task === 'detection' ? 'generated detection scenes' : 'Fashion-MNIST'}: ${profile.name} profile`,
    '',
    `Generated by \`${run.command}\` at ${run.startedAt}.`,
    '',
    `- commit${timed === run && !complete ? ' of this invocation' : ''}: \`${timed.commit}\`${timed.uncommittedChanges > 0 ? ` (the working tree had ${timed.uncommittedChanges} uncommitted change(s) at the time)` : ''}`,
    `- ${timed.machine}; load average at the end ${timed.loadAverageAtEnd.map((l) => l.toFixed(2)).join(' ')}`,
    `- compute backend: ${backend}`,
    `- wall time: ${wallTimeLine(runs, complete, run, profile)}`,
    `- how each result came about in this invocation: ${Object.entries(run.how)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `- data: ${profile.data ? profile.data : profile.prefixData ? `the first ${profile.trainSamples} training and first ${profile.testSamples} test images of Fashion-MNIST` : `Fashion-MNIST, all ${pool} training and ${profile.testSamples} test images`}`,
    `- model and training: ${config.model} width ${config.modelWidth}, ${config.training.epochs} epochs${config.training.minSteps ? ` but at least ${config.training.minSteps} optimizer steps per model (the full set's steps: smaller sets train proportionally more epochs, equal compute)` : ''}, batch ${config.training.batchSize}, ${config.training.optimizer} lr ${config.training.learningRate}, ${config.training.augmentation === 'none' ? 'no augmentation' : `augmentation ${config.training.augmentation}`}${task === 'detection' ? `; acquisition per class-map cell, ${config.acquisition.reduction ?? 'max'} over cells` : ''}`,
    `- search (seed ${config.seed}): start from a random ${config.initialSize} (build-up), targets ${config.targets.join(', ')}, each round acquires up to the next target; ensemble ${config.ensemble.members} members x checkpoints at epochs [${config.ensemble.checkpointEpochs.join(', ')}] (random acquisition: 1 member)`,
    `- evaluation: ${config.evaluation.repeats} fresh model(s) per subset (seeds shared by the subset and its random counterpart); random subsets and the full set trained once, by the entropy search${config.evaluation.earlyStopping ? `; each evaluation model trains for at most ${config.evaluation.earlyStopping.maxEpochs ?? config.training.epochs} epochs and keeps the epoch with the best accuracy on ${config.evaluation.earlyStopping.validationSamples} held-out training samples (patience ${config.evaluation.earlyStopping.patience})` : ''}${config.evaluation.models ? `; evaluated with ${config.evaluation.models.map(modelLabel).join(' and ')}` : ''}`,
    '',
    `## ${task === 'detection' ? 'COCO mAP@[.5:.95] on the test scenes' : 'Test accuracy'} (%), mean ± std over the models`,
    '',
    formatMarkdownTable(main),
    '',
    `Bold: the best subset chosen by uncertainty at that size (random acquisition excluded). "best AL − random": its gain over the random subset of equal size, in points. ${repeats > 1 ? `Every cell is the mean ± sample std of ${repeats} fresh models.` : 'Every cell is one fresh model.'}`,
    '',
    `![accuracy vs subset size](accuracy.svg)`,
    '',
  ];
  if (ablation.columns.length > 1) {
    md.push('## Ablations (each one config switch from the entropy search)', '');
    for (const o of outcomes.filter((x) => x.experiment.role === 'ablation'))
      md.push(`- ${o.experiment.label}: \`${o.experiment.switch}\``);
    md.push('', formatMarkdownTable(ablation), '');
  }
  if (Object.keys(balance).length > 0) {
    md.push(
      '## Class balance of the subsets',
      '',
      `Smallest–largest number of samples per class (${pool} samples in ${outcomes.find((o) => o.result)?.result?.numClasses ?? '?'} classes; per-class counts in results.json).`,
      '',
      formatBalanceTable(balance, main.columns),
      '',
    );
  }
  md.push(
    '## Per-search reports',
    '',
    ...outcomes
      .filter((o) => o.result)
      .map((o) => `- [${o.experiment.label}](reports/${o.experiment.name}.html) (workflow \`${o.workflowId}\`)`),
    '',
  );
  const failed = outcomes.filter((o) => !o.result);
  if (failed.length > 0)
    md.push(
      '## Did not finish',
      '',
      ...failed.map((o) => `- ${o.experiment.label} (\`${o.workflowId}\`): ${o.error ?? 'failed'}`),
      '',
    );
  if (estimate)
    md.push(
      '## Full profile, estimated running time on this machine',
      '',
      `About ${(estimate.fullProfileSeconds / 3600).toFixed(1)} h: ${estimate.basis}.`,
      '',
    );
  writeFileSync(path.join(dir, 'results.md'), md.join('\n'));
  log(`results in ${path.relative(repoRoot(), dir)}/ (results.md, results.json, accuracy.svg, reports/)`);
  console.log('');
  console.log(formatMarkdownTable(main));
  console.log('');
  log(`wall time ${(run.wallSeconds / 60).toFixed(1)} min; ${machineLine()}`);
  if (estimate) log(`full profile estimate: ${(estimate.fullProfileSeconds / 3600).toFixed(1)} h on this machine`);
}

function startedAtLabel(run: RunRecord): string {
  return run.startedAt.slice(0, 16).replace('T', ' ');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`[reproduce] failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  });
}
