/**
 * Compute task: train one ensemble member on a subset, saving a checkpoint at
 * each configured epoch and a resume point after every other epoch. After a
 * crash or retry it resumes from the latest intact state in the store, so at
 * most the epoch in flight is trained again. Runs in the compute child.
 */
import type * as tf from '@tensorflow/tfjs';
import type { DatasetSpec } from '../../domain/data';
import type { DetectionDatasetSpec } from '../../contracts/detection-data-spec';
import {
  encodeCheckpoint,
  parseCheckpointHeader,
  verifyCheckpointWeights,
  type CheckpointFiles,
  type DecodedCheckpoint,
} from '../../domain/ml/checkpoint';
import { createOptimizer, type EpochMetrics } from '../../domain/ml/train';
import type { ArtifactStore } from '../../domain/storage/store';
import { openWorkerStore } from '../../domain/storage/worker-store';
import { artifactPaths } from '../../contracts/artifact-paths';
import { initComputeBackend } from '../backend';
import { getCheckpoint, putCheckpoint } from './checkpoint-store';
import { PhaseClock, type PhaseSeconds } from '../phase-clock';
import {
  openMemberTrainer,
  type EarlyStoppingInput,
  type MemberTrainingSettings,
  type ModelChoice,
} from './member-trainers';

export type { EarlyStoppingInput, ModelChoice, MemberTrainingSettings };

export interface TrainMemberInput {
  storageRoot: string;
  /** A classification set (`kind`) or a detection set (`format`): the trainer follows it. */
  dataset: DatasetSpec | DetectionDatasetSpec;
  model: ModelChoice;
  training: MemberTrainingSettings;
  /** URI of the subset manifest to train on; null for the whole training split. */
  subsetUri: string | null;
  /** Key prefix of this member's artifacts (artifactPaths.member). */
  memberKey: string;
  /** Epochs (1-based) whose checkpoints join the ensemble. */
  checkpointEpochs: number[];
  seed: number;
  /** Fine-tuning starts from another checkpoint's weights (fresh optimizer). */
  initFrom?: string;
  /** Names the member in messages, e.g. "round 2, member 3". */
  context: string;
  /**
   * Keep the epoch with the best accuracy on held-out training samples, and stop `patience` epochs after it:
   * the result's one checkpoint is that epoch's (checkpointEpochs is not used).
   */
  earlyStopping?: EarlyStoppingInput;
}

export interface CheckpointRef {
  epoch: number;
  uri: string;
  sha256: string;
}

export interface TrainMemberProgress {
  epoch: number;
  epochs: number;
  loss: number;
  accuracy: number;
  /** Latest state a retry would resume from. */
  checkpointUri: string;
}

export interface TrainMemberResult {
  checkpoints: CheckpointRef[];
  history: EpochMetrics[];
  /** Epochs already done when this attempt started (0 = from scratch). */
  resumedFromEpoch: number;
  /** Batches of the next epoch already done when this attempt started (a graceful shutdown's mid-epoch save), else 0. */
  resumedFromBatch: number;
  samples: number;
  backend: string;
  /** Bytes of checkpoints this attempt wrote (absent in results recorded before it was added). */
  checkpointBytes?: number;
  /** Seconds per phase inside the task (absent in results recorded before it was added). */
  phases?: PhaseSeconds;
  /** With early stopping: the kept epoch, its held-out accuracy, and the epochs trained in all. */
  earlyStopping?: { bestEpoch: number; validationAccuracy: number; epochsTrained: number };
}

export interface TrainMemberOptions {
  /** Polled after every batch; true = save the position inside the epoch and stop (graceful shutdown). */
  stopRequested?: () => boolean;
  log?: (line: string) => void;
}

function checkpointSize(files: CheckpointFiles): number {
  return files['checkpoint.json'].byteLength + files['weights.bin'].byteLength;
}

interface ResumeState {
  epoch: number;
  /** Batches done inside epoch `epoch + 1` (0 at an epoch boundary). */
  batch: number;
  key: string;
  checkpoint: DecodedCheckpoint;
}

/**
 * The latest stored state from which every ensemble checkpoint at or before
 * it is intact. A corrupt or half-written state is passed over (and later
 * overwritten), never used.
 */
async function findResumeState(
  store: ArtifactStore,
  input: TrainMemberInput,
  log: (line: string) => void,
): Promise<ResumeState | undefined> {
  const listed = new Set((await store.list(`${input.memberKey}/`)).map((o) => o.key));
  const candidates: string[] = [...artifactPaths.resumeSlots(input.memberKey)];
  for (const epoch of input.checkpointEpochs) candidates.push(artifactPaths.checkpoint(input.memberKey, epoch));
  const states: ResumeState[] = [];
  for (const key of candidates) {
    if (!listed.has(`${key}/checkpoint.json`) || !listed.has(`${key}/weights.bin`)) continue;
    try {
      const checkpoint = await getCheckpoint(store, key);
      if (checkpoint.meta.seed !== input.seed) {
        log(`${input.context}: ignoring ${key}, written with seed ${checkpoint.meta.seed}`);
        checkpoint.model.dispose();
        continue;
      }
      states.push({ epoch: checkpoint.meta.epoch, batch: checkpoint.meta.within?.batch ?? 0, key, checkpoint });
    } catch (err) {
      log(`${input.context}: ignoring ${key}: ${(err as Error).message}`);
    }
  }
  states.sort((a, b) => b.epoch - a.epoch || b.batch - a.batch);
  const intact = new Set(states.filter((s) => input.checkpointEpochs.includes(s.epoch)).map((s) => s.epoch));
  const chosen = states.find((s) => input.checkpointEpochs.every((e) => e > s.epoch || intact.has(e)));
  for (const s of states) if (s !== chosen) s.checkpoint.model.dispose();
  return chosen;
}

/**
 * Early stopping's best state so far, from its checkpoint's header (weights verified). A same-seed best newer than the resume point
 * (a crash between the two saves) is a trained epoch that beat every earlier one, so it is kept.
 */
async function readBest(
  store: ArtifactStore,
  key: string,
  input: TrainMemberInput,
  log: (line: string) => void,
): Promise<{ epoch: number; accuracy: number } | undefined> {
  try {
    // The digest check matters: a crash while overwriting the best leaves new weights beside the old header.
    const where = store.uriOf(key);
    const header = parseCheckpointHeader(await store.get(`${key}/checkpoint.json`), where);
    verifyCheckpointWeights(header, await store.get(`${key}/weights.bin`), where);
    const { meta } = header;
    if (meta.seed !== input.seed || meta.validationAccuracy === undefined) {
      log(`${input.context}: ignoring ${key}, written with seed ${meta.seed} or without a held-out accuracy`);
      return undefined;
    }
    return { epoch: meta.epoch, accuracy: meta.validationAccuracy };
  } catch (err) {
    log(`${input.context}: no usable best checkpoint at ${key} (${(err as Error).message}); the next epoch sets it`);
    return undefined;
  }
}

export async function trainMember(
  input: TrainMemberInput,
  report: (p: TrainMemberProgress) => void,
  options: TrainMemberOptions = {},
): Promise<TrainMemberResult> {
  const log = options.log ?? console.error;
  const clock = new PhaseClock();
  const backend = await clock.time('backendInit', () => initComputeBackend());
  const store = openWorkerStore(input.storageRoot);
  const trainer = await clock.time('dataRead', () => openMemberTrainer(store, input));
  const epochs = input.training.epochs;
  const early = input.earlyStopping;
  // Early stopping keeps its best epoch under its own key instead of fixed checkpoint epochs.
  const wanted = early ? [] : [...new Set(input.checkpointEpochs)].sort((a, b) => a - b);
  if (wanted.some((e) => e < 1 || e > epochs)) {
    throw new Error(`${input.context}: checkpoint epochs ${wanted.join(', ')} must lie within 1..${epochs}`);
  }

  const resume = await clock.time('checkpointRead', () =>
    findResumeState(store, { ...input, checkpointEpochs: wanted }, log),
  );
  const bestKey = artifactPaths.bestCheckpoint(input.memberKey);
  let best = early && resume ? await readBest(store, bestKey, input, log) : undefined;
  let model: tf.LayersModel;
  const optimizer = createOptimizer(input.training);
  if (resume) {
    model = resume.checkpoint.model;
    await resume.checkpoint.restoreOptimizer(optimizer);
    log(
      `${input.context}: resuming after epoch ${resume.epoch}${resume.batch ? `, batch ${resume.batch} of epoch ${resume.epoch + 1}` : ''}`,
    );
  } else if (input.initFrom) {
    const initFrom = input.initFrom;
    model = (await clock.time('checkpointRead', () => getCheckpoint(store, initFrom))).model;
  } else {
    model = await clock.time('modelBuild', () => trainer.build(input.seed));
  }

  const checkpointUri = (key: string) => store.uriOf(`${key}/checkpoint.json`);
  let latest = resume ? checkpointUri(resume.key) : '';
  // Each save goes to the slot that does not hold the newest state.
  const slots = artifactPaths.resumeSlots(input.memberKey);
  let newestSlot = resume?.key === slots[0] ? 0 : 1;
  const nextResumeSlot = (): string => slots[(newestSlot = 1 - newestSlot)];
  let checkpointBytes = 0;
  const saveEpoch = async (key: string, m: EpochMetrics, validationAccuracy?: number): Promise<void> => {
    const files = await clock.time('write', () =>
      encodeCheckpoint(model, optimizer, {
        epoch: m.epoch,
        seed: input.seed,
        loss: m.loss,
        accuracy: m.accuracy,
        ...(validationAccuracy !== undefined ? { validationAccuracy } : {}),
        backend: backend.name,
        createdBy: input.context,
      }),
    );
    await clock.time('write', () => putCheckpoint(store, key, files));
    checkpointBytes += checkpointSize(files);
  };
  // Checkpoint writes happen inside training's callbacks: they count as 'write', the rest of training as 'compute'.
  const trainingStarted = performance.now();
  const writeSecondsBefore = clock.seconds.write ?? 0;
  try {
    // A retry of a run that had already stopped early trains nothing more.
    const stoppedBefore = early && best && resume && resume.epoch - best.epoch >= early.patience;
    const history = stoppedBefore
      ? []
      : await trainer.train({
          model,
          optimizer,
          seed: input.seed,
          firstEpoch: (resume?.epoch ?? 0) + 1,
          within: resume?.checkpoint.meta.within,
          context: input.context,
          shouldStop: options.stopRequested,
          // Graceful shutdown: the position inside the epoch goes to the resume point, which a retry prefers.
          onInterrupt: async (epochsDone, position) => {
            const files = await encodeCheckpoint(model, optimizer, {
              epoch: epochsDone,
              seed: input.seed,
              loss: null,
              accuracy: null,
              backend: backend.name,
              createdBy: input.context,
              within: position,
            });
            const slot = nextResumeSlot();
            await clock.time('write', () => putCheckpoint(store, slot, files));
            checkpointBytes += checkpointSize(files);
            log(
              `${input.context}: stopped in epoch ${epochsDone + 1} after batch ${position.batch}; saved ${store.uriOf(slot)}`,
            );
          },
          onEpochEnd: async (m) => {
            // The best state is saved before the resume point, so a resumed run never misses its best epoch.
            const validationAccuracy = early ? trainer.validationAccuracy!(model) : undefined;
            if (validationAccuracy !== undefined && (best === undefined || validationAccuracy > best.accuracy)) {
              await saveEpoch(bestKey, m, validationAccuracy);
              best = { epoch: m.epoch, accuracy: validationAccuracy };
            }
            // Early stopping saves its last epoch too, so a retry after the full run trains nothing again.
            if (m.epoch < epochs || wanted.includes(m.epoch) || early) {
              const key = wanted.includes(m.epoch)
                ? artifactPaths.checkpoint(input.memberKey, m.epoch)
                : nextResumeSlot();
              await saveEpoch(key, m);
              latest = checkpointUri(key);
            }
            report({ epoch: m.epoch, epochs, loss: m.loss, accuracy: m.accuracy, checkpointUri: latest });
            if (early && best && m.epoch - best.epoch >= early.patience) {
              log(
                `${input.context}: early stop after epoch ${m.epoch}; keeping epoch ${best.epoch} (held-out accuracy ${(100 * best.accuracy).toFixed(2)}%)`,
              );
              return 'stop';
            }
            return undefined;
          },
        });
    const writeSeconds = (clock.seconds.write ?? 0) - writeSecondsBefore;
    clock.add('compute', (performance.now() - trainingStarted) / 1000 - writeSeconds);
    const checkpoints: CheckpointRef[] = [];
    for (const epoch of wanted) {
      const stat = await store.stat(`${artifactPaths.checkpoint(input.memberKey, epoch)}/checkpoint.json`);
      checkpoints.push({ epoch, uri: stat.uri, sha256: stat.sha256 });
    }
    if (early) {
      if (!best) throw new Error(`${input.context}: early stopping found no best epoch`);
      const stat = await store.stat(`${bestKey}/checkpoint.json`);
      checkpoints.push({ epoch: best.epoch, uri: stat.uri, sha256: stat.sha256 });
    }
    const epochsTrained = history.at(-1)?.epoch ?? resume?.epoch ?? 0;
    return {
      checkpoints,
      history,
      resumedFromEpoch: resume?.epoch ?? 0,
      resumedFromBatch: resume?.batch ?? 0,
      samples: trainer.count,
      backend: backend.name,
      checkpointBytes,
      phases: clock.seconds,
      ...(early && best
        ? { earlyStopping: { bestEpoch: best.epoch, validationAccuracy: best.accuracy, epochsTrained } }
        : {}),
    };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
