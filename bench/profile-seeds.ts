/**
 * A seeded profile across search seeds: reads bench/results/<profile>/ (seed 0) and
 * bench/results/<profile>-seed-<N>/ (written by `npm run bench:reproduce -- --<profile> --seed=N`) and prints
 * per metric and subset size the mean ± sample std over seeds, and AL − random per seed:
 *
 *   npm run bench:profile-seeds -- --profile=detection|convergence|transfer
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../infra/tools';
import { seededProfiles } from './reproduce-plan';
import { seedTables, type SeedRun } from './profile-seeds-table';

function main(): void {
  const arg = process.argv.slice(2).find((a) => a.startsWith('--profile='));
  const profile = arg?.slice('--profile='.length) ?? 'detection';
  if (!(seededProfiles as readonly string[]).includes(profile))
    throw new Error(`--profile must be one of ${seededProfiles.join(', ')}; got ${profile}`);
  const root = path.join(repoRoot(), 'bench', 'results');
  const pattern = new RegExp(`^${profile}(-seed-\\d+)?$`);
  const dirs = readdirSync(root)
    .filter((d) => pattern.test(d) && existsSync(path.join(root, d, 'results.json')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (dirs.length === 0)
    throw new Error(`no ${profile} results under ${root}; run npm run bench:reproduce -- --${profile} --seed=0`);
  const runs: SeedRun[] = dirs.map((dir) => ({
    dir,
    ...(JSON.parse(readFileSync(path.join(root, dir, 'results.json'), 'utf8')) as Omit<SeedRun, 'dir'>),
  }));
  console.log(seedTables(runs));
}

main();
