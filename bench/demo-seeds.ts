/**
 * Runs the demo's search with search seeds 0..N-1 and prints, per seed and subset size, AL − random: the
 * demo config must show AL above random at its sizes in at least 4 of 5 seeds (docs/results.md, "The demo").
 *
 *   npm run bench:demo-seeds [-- --seeds=5 --concurrency=2 --slots=2 --override='{"training":{"minSteps":400}}']
 *
 * Finished searches are reused by a digest of their config (history in state/demo-seeds.db), so a rerun
 * prints at once and an interrupted one goes on where it stopped.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { demoConfig } from '../client/demo-config';
import { formatConfigProblems, parseSearchConfig, type SearchConfigInput } from '../contracts/config';
import { repoRoot } from '../infra/tools';
import { demoSeedsTable, mergeConfig, seedMargins, type SeedOutcome } from './demo-seeds-table';
import { machineLine } from './machine';
import { gitInfo, runSearch, watchProgress, withBenchWorkers, withLimit } from './search-runner';

interface Args {
  seeds: number;
  concurrency: number;
  slots: number;
  override?: unknown;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seeds: 5, concurrency: 2, slots: 2 };
  for (const a of argv) {
    const [key, value] = [a.slice(0, a.indexOf('=') + 1), a.slice(a.indexOf('=') + 1)];
    if (key === '--override=') {
      try {
        args.override = JSON.parse(value);
      } catch (err) {
        throw new Error(`--override must be JSON (a partial search config): ${(err as Error).message}`, { cause: err });
      }
    } else if (key === '--seeds=' || key === '--concurrency=' || key === '--slots=') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a}: expected a positive integer`);
      args[key.slice(2, -1) as 'seeds' | 'concurrency' | 'slots'] = n;
    } else throw new Error(`unknown argument ${a}; use --seeds=N, --concurrency=N, --slots=N, --override=JSON`);
  }
  return args;
}

function log(line: string): void {
  console.log(`[demo-seeds] ${new Date().toISOString().slice(11, 19)} ${line}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const base: SearchConfigInput = args.override === undefined ? demoConfig : mergeConfig(demoConfig, args.override);
  // Refuse a bad override before any server starts; the error names the field.
  const parsed = parseSearchConfig(base);
  if (!parsed.ok) throw new Error(`--override: ${formatConfigProblems(parsed.problems)}`);
  if (!parsed.config.evaluation.randomBaseline)
    throw new Error('--override: the bench compares AL with random subsets; keep evaluation.randomBaseline true');
  const digest = createHash('sha256').update(JSON.stringify(base)).digest('hex').slice(0, 8);
  const machine = machineLine();
  const git = gitInfo();
  log(machine);
  log(`config ${digest}: ${JSON.stringify(base)}`);
  log(`${args.seeds} search seeds, ${args.concurrency} at once, ${args.slots} training slots`);
  process.env.WINNOW_STORAGE_ROOT ??= path.join(repoRoot(), 'state', 'demo-seeds', 'artifacts');
  const inFlight = new Map<string, string>();
  const outcomes = await withBenchWorkers(
    { dbFile: path.join(repoRoot(), 'state', 'demo-seeds.db'), slots: args.slots, log },
    async (client) => {
      const timer = watchProgress(client, inFlight, started, log);
      try {
        const seeds = Array.from({ length: args.seeds }, (_, seed) => seed);
        return await withLimit(
          args.concurrency,
          seeds.map((seed) => async (): Promise<SeedOutcome> => {
            const outcome = await runSearch(
              client,
              { name: `seed ${seed}`, baseId: `demo-seeds-${digest}-seed-${seed}`, config: { ...base, seed } },
              inFlight,
              log,
            );
            return { seed, ...outcome };
          }),
        );
      } finally {
        clearInterval(timer);
      }
    },
  );
  const margins = seedMargins(outcomes);
  const wallSeconds = (Date.now() - started) / 1000;
  console.log('');
  console.log(demoSeedsTable(margins));
  console.log('');
  console.log(`${machine}`);
  console.log(`commit ${git.commit} (${git.uncommittedChanges} uncommitted paths), wall ${wallSeconds.toFixed(0)} s`);
  // The demo's own config goes to bench/results (committed); a config tried with --override stays in state/.
  const out =
    args.override === undefined
      ? path.join(repoRoot(), 'bench', 'results', 'demo-seeds', 'results')
      : path.join(repoRoot(), 'state', 'demo-seeds', digest);
  if (margins.every((m) => m.how === 'reused') && existsSync(`${out}.json`)) {
    console.log(
      `results          ${path.relative(repoRoot(), out)}.{json,md} kept: every search was reused, so the run that made them stays recorded`,
    );
    return;
  }
  mkdirSync(path.dirname(out), { recursive: true });
  const record = { config: base, digest, machine, ...git, wallSeconds, command: process.argv.slice(2), seeds: margins };
  writeFileSync(`${out}.json`, `${JSON.stringify(record, null, 2)}\n`);
  writeFileSync(
    `${out}.md`,
    [
      '# The demo config across search seeds (`npm run bench:demo-seeds`)',
      '',
      `- config \`${digest}\`: \`${JSON.stringify(base)}\``,
      `- ${machine}; commit \`${git.commit}\` (${git.uncommittedChanges} uncommitted paths); wall ${wallSeconds.toFixed(0)} s for ${args.seeds} seeds, ${args.concurrency} at once`,
      `- how each seed's search came about in this invocation: ${margins.map((m) => `${m.seed} ${m.how ?? 'failed'}`).join(', ')} (a reused search was run by an earlier invocation; its search seconds are its own)`,
      '',
      '```',
      demoSeedsTable(margins),
      '```',
      '',
    ].join('\n'),
  );
  console.log(`results          ${path.relative(repoRoot(), out)}.{json,md}`);
  if (margins.some((m) => m.error)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`[demo-seeds] failed: ${(err as Error).message}`);
  process.exit(1);
});
