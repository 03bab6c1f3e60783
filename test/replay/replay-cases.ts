/** The searches of the replay corpus: small, on a generated pool, each exercising another path of the workflow. */
import type { SearchConfigInput } from '../../contracts/config';

const tiny = {
  dataset: { kind: 'synthetic' as const, uri: 'synthetic:?seed=4&shape=12x12x1&classes=4&test=200', size: 300 },
  modelWidth: 0.25,
  training: { epochs: 2, batchSize: 32, learningRate: 0.003 },
  ensemble: { members: 2, checkpointEpochs: [1, 2] },
  shardSize: 128,
} satisfies Partial<SearchConfigInput>;

export interface ReplayCase {
  name: string;
  config: SearchConfigInput;
  /** Pause before the first scoring step and un-pause with the `resume` signal. */
  pauseOnce?: boolean;
  /** Kill the gpu worker process while a member trains; a fresh one retries it after the heartbeat timeout. */
  killGpuMidRound?: boolean;
}

export const replayCases: ReplayCase[] = [
  // Two build-up rounds (continue-as-new between them), evaluated with both baselines.
  { name: 'replay-build-up', config: { ...tiny, initialSize: 30, targets: [60, 90], acquisition: { step: 30 } } },
  {
    name: 'replay-compress',
    config: {
      ...tiny,
      scheme: 'compress',
      targets: [60, 120],
      evaluation: { randomBaseline: false, fullBaseline: false },
    },
  },
  // Three shards scored through three child workflows.
  {
    name: 'replay-fan-out',
    config: {
      ...tiny,
      initialSize: 30,
      targets: [60],
      shardsPerChild: 1,
      evaluation: { randomBaseline: false, fullBaseline: false },
    },
  },
  {
    name: 'replay-paused',
    config: { ...tiny, initialSize: 30, targets: [60], evaluation: { randomBaseline: false, fullBaseline: false } },
    pauseOnce: true,
  },
  // A gpu worker killed while members train: the attempt in flight times out and a fresh worker retries it.
  {
    name: 'replay-worker-kill',
    config: {
      ...tiny,
      initialSize: 30,
      targets: [60],
      // Enough steps per member that the stop lands while one trains.
      training: { ...tiny.training, epochs: 4, minSteps: 400 },
      ensemble: { members: 2, checkpointEpochs: [2, 4] },
      evaluation: { randomBaseline: false, fullBaseline: false },
    },
    killGpuMidRound: true,
  },
];
