/**
 * The search `npm run demo` runs, chosen from the experiments of `npm run bench:demo-seeds`
 * (docs/results.md, "The demo"): it must show AL above random at its sizes in at least 4 of 5 search seeds.
 */
import type { SearchConfigInput } from '../contracts/config';

export const demoConfig: SearchConfigInput = {
  dataset: { kind: 'fashion-mnist' },
  scheme: 'build-up',
  initialSize: 3000,
  targets: [6000, 15000],
  acquisition: { function: 'entropy' },
  ensemble: { members: 2, checkpointEpochs: [1, 2] },
  modelWidth: 0.5,
  // Equal compute: every model takes at least 469 steps (one epoch of the full set), so small subsets train more epochs.
  training: { epochs: 2, learningRate: 0.002, minSteps: 469 },
  evaluation: { repeats: 3 },
  shardSize: 15000,
};

/** One line under the demo's table: what it compares, and where the full results are. */
export const demoTableLegend =
  'Each cell: mean ± std of 3 fresh models of at least 469 training steps each, on the subset the search chose (AL), a random subset of equal size, or all of the pool (full set); AL beat random at both sizes in 5 of 5 search seeds (npm run bench:demo-seeds). Full results: docs/results.md';
