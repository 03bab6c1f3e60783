/**
 * Running ensemble statistics for one shard of the pool: members' predictions
 * are folded in one at a time and only their sums are kept (probabilities
 * and member entropies in float64, votes), so scoring never holds samples x
 * members x classes, and the scores do not depend on fold order or on how
 * members were split across workers. Pure. Folding runs in the WebAssembly
 * SIMD fold kernel where it can, else in JS with the same arithmetic; why
 * float64 sums, their memory cost, and the kernel's in-place memory:
 * docs/kernels.md, "Ensemble accumulator".
 */
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { pExponent, pLogMantissa } from './float32-log';
import { foldKernelStatus, foldRowsWasm, kernelArrays, type KernelArrays } from '../../kernels/fold/fold-kernel';

export interface EnsembleAccumulator {
  /** Samples in the shard. */
  readonly samples: number;
  /** Locations per sample: 1 for classification, the map size for detection. */
  readonly locations: number;
  readonly classes: number;
  /** Global pool index of the shard's first sample. */
  readonly globalStart: number;
  /** Members folded so far (K). */
  memberCount: number;
  /** Sum over members of probabilities, row-major [sample][location][class]. */
  readonly probabilitySums: Float64Array;
  /** Sum over members of each member's entropy, per [sample][location]. */
  readonly entropySums: Float64Array;
  /** Members whose argmax is each class, per [sample][location][class]; widened to 32 bits past 65535 members. */
  votes: Uint16Array | Uint32Array;
  /** Set when a fold failed part-way: the sums are then unusable. */
  poisoned?: string;
}

export interface AccumulatorShape {
  samples: number;
  classes: number;
  locations?: number;
  globalStart?: number;
}

export interface FoldOptions {
  /** Member index to name in error messages; defaults to the accumulator's member count. */
  member?: number;
  /** Rows whose sum is further than this from 1 are renormalised (default 1e-4). */
  tolerance?: number;
  /**
   * 'auto' (default): the WebAssembly SIMD kernel where it can run, else JS.
   * Both give bit-identical sums, entropies and votes; 'js' and 'wasm'
   * force one ('wasm' throws where it cannot run).
   */
  kernel?: FoldKernel;
}

export type FoldKernel = 'auto' | 'js' | 'wasm';
export { foldKernelStatus };

export const DEFAULT_ROW_TOLERANCE = 1e-4;
const MAX_UINT16 = 0xffff;

function positiveInt(value: number, name: string, allowZero = false): number {
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${value}`,
    );
  }
  return value;
}

/**
 * A zeroed accumulator. Its sums live in a wasm memory of their own (the
 * kernel folds in place) unless `memory: 'plain'` asks for ordinary arrays,
 * as parseAccumulator returns (tests and benches compare the two).
 */
export function createAccumulator(
  shape: AccumulatorShape,
  options: { memory?: 'kernel' | 'plain' } = {},
): EnsembleAccumulator {
  const samples = positiveInt(shape.samples, 'samples', true);
  const classes = positiveInt(shape.classes, 'classes');
  const locations = positiveInt(shape.locations ?? 1, 'locations');
  const globalStart = positiveInt(shape.globalStart ?? 0, 'globalStart', true);
  if (globalStart + samples > 2 ** 32) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `shard [${globalStart}, ${globalStart + samples}) goes past the 2^32 sample index limit`,
    );
  }
  const rows = samples * locations;
  return {
    samples,
    locations,
    classes,
    globalStart,
    memberCount: 0,
    ...(options.memory === 'plain' ? plainArrays(rows, classes) : newArrays(rows, classes)),
  };
}

/** Zeroed sums and votes, in a wasm memory of their own where the fold kernel can run (it then folds in place). */
function newArrays(rows: number, classes: number): KernelArrays {
  return kernelArrays(rows, classes) ?? plainArrays(rows, classes);
}

function plainArrays(rows: number, classes: number): KernelArrays {
  return {
    probabilitySums: new Float64Array(rows * classes),
    entropySums: new Float64Array(rows),
    votes: new Uint16Array(rows * classes),
  };
}

function assertUsable(acc: EnsembleAccumulator): void {
  if (acc.poisoned) throw new Error(`accumulator is unusable after a failed fold (${acc.poisoned}); start a new one`);
}

function widenVotesFor(acc: EnsembleAccumulator, members: number): void {
  if (members > MAX_UINT16 && acc.votes instanceof Uint16Array) acc.votes = Uint32Array.from(acc.votes);
  if (members > 0xffffffff) throw new RangeError(`more than 2^32-1 members (${members})`);
}

/** Where a row index points: sample (local and global), location, for messages. */
export function describeRow(acc: Pick<EnsembleAccumulator, 'locations' | 'globalStart'>, row: number): string {
  const sample = Math.floor(row / acc.locations);
  const location = row - sample * acc.locations;
  const at = `sample ${sample} (global ${acc.globalStart + sample})`;
  return acc.locations > 1 ? `${at}, location ${location}` : at;
}

function rowFailure(acc: EnsembleAccumulator, probs: Float32Array, row: number, member: number): TypedTaskError {
  const C = acc.classes;
  const where = `member ${member}, ${describeRow(acc, row)}`;
  for (let c = 0; c < C; c++) {
    const v = probs[row * C + c]!;
    if (Number.isNaN(v) || v === Infinity || v === -Infinity) {
      return new TypedTaskError(
        FailureType.Diverged,
        `${where}, class ${c}: probability is ${v}; the member's predictions are not finite: retrain or drop that member`,
      );
    }
    if (v < 0) {
      return new TypedTaskError(
        FailureType.InvalidData,
        `${where}, class ${c}: probability ${v} is negative; pass softmax probabilities, not logits`,
      );
    }
  }
  return new TypedTaskError(
    FailureType.InvalidData,
    `${where}: all ${C} probabilities are zero; pass softmax probabilities`,
  );
}

/**
 * Adds one member's predictions (Float32Array of samples x locations x
 * classes probabilities) to the running sums. Throws Diverged on NaN/Inf and
 * InvalidData on negative or all-zero rows, naming member and sample; the
 * accumulator is then unusable, since rows before the bad one were added.
 */
export function foldMember(acc: EnsembleAccumulator, probs: Float32Array, options: FoldOptions = {}): void {
  assertUsable(acc);
  const C = acc.classes;
  const rows = acc.samples * acc.locations;
  const member = options.member ?? acc.memberCount;
  if (probs.length !== rows * C) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `member ${member}: expected ${rows * C} probabilities (${acc.samples} samples x ${acc.locations} locations x ${C} classes), got ${probs.length}`,
    );
  }
  const tolerance = options.tolerance ?? DEFAULT_ROW_TOLERANCE;
  widenVotesFor(acc, acc.memberCount + 1);
  const kernel = options.kernel ?? 'auto';
  const wasm = kernel === 'wasm' || (kernel === 'auto' && foldKernelStatus().available);
  const bad = wasm ? foldRowsWasm(acc, probs, tolerance) : foldRowsJs(acc, probs, tolerance);
  if (bad >= 0) {
    const failure = rowFailure(acc, probs, bad, member);
    acc.poisoned = failure.message;
    throw failure;
  }
  acc.memberCount++;
}

/**
 * The fold in JS, the same arithmetic in the same order as fold-kernel.wat
 * (which runs four rows at once, one per SIMD lane): each probability added
 * to its float64 sum; per row, classes in order in blocks of 16, float32
 * block sums of p, p k and p ln m (float32-log.ts) added to float64 totals
 * at each block's end; the argmax compared as int32 bits (ordered like the
 * values for non-negative floats). Returns -1 or the first bad row.
 */
function foldRowsJs(acc: EnsembleAccumulator, probs: Float32Array, tolerance: number): number {
  const C = acc.classes;
  const rows = acc.samples * acc.locations;
  const bits = new Int32Array(probs.buffer, probs.byteOffset, probs.length);
  const sums = acc.probabilitySums;
  const entropies = acc.entropySums;
  const votes = acc.votes;
  const fround = Math.fround;

  for (let row = 0, base = 0; row < rows; row++, base += C) {
    const end = base + C;
    for (let i = base; i < end; i++) sums[i] += probs[i]!;
    let sum = 0;
    let pk = 0;
    let pm = 0;
    let blockSum = 0;
    let blockK = 0;
    let blockM = 0;
    let best = -1;
    let arg = 0;
    let signs = 0;
    for (let c = 0, i = base; i < end; c++, i++) {
      const p = probs[i]!;
      const b = bits[i]!;
      signs |= b;
      if (b > best) {
        best = b;
        arg = c;
      }
      blockSum = fround(blockSum + p);
      blockK = fround(blockK + pExponent(p, b));
      blockM = fround(blockM + pLogMantissa(p, b));
      if ((c & 15) === 15 || i === end - 1) {
        sum += blockSum;
        pk += blockK;
        pm += blockM;
        blockSum = blockK = blockM = 0;
      }
    }
    const pLogP = pk * Math.LN2 + pm;
    // NaN and +-Inf make the sum non-finite; a set sign bit is a negative value (or a harmless -0).
    if (!(sum > 0 && sum < Infinity) || (signs < 0 && hasNegative(probs, base, end))) return row;
    // Entropy of the row; when renormalised to p/s it is ln s - (1/s) sum p ln p.
    let h = -pLogP;
    if (Math.abs(sum - 1) > tolerance) {
      const inv = 1 / sum;
      const correction = inv - 1;
      for (let j = base; j < end; j++) sums[j] += probs[j]! * correction;
      h = Math.log(sum) - inv * pLogP;
    }
    entropies[row] += h > 0 ? h : 0;
    votes[base + arg]++;
  }
  return -1;
}

function hasNegative(probs: Float32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (probs[i]! < 0) return true;
  return false;
}

function assertSameShard(a: EnsembleAccumulator, b: EnsembleAccumulator): void {
  const shape = (x: EnsembleAccumulator) =>
    `${x.samples} samples x ${x.locations} locations x ${x.classes} classes from global ${x.globalStart}`;
  if (
    a.samples !== b.samples ||
    a.locations !== b.locations ||
    a.classes !== b.classes ||
    a.globalStart !== b.globalStart
  ) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `cannot merge accumulators of different shards: ${shape(a)} vs ${shape(b)}`,
    );
  }
}

/** Adds `source`'s members into `target` (same shard: samples, locations, classes, start). */
export function mergeInto(target: EnsembleAccumulator, source: EnsembleAccumulator): void {
  assertUsable(target);
  assertUsable(source);
  assertSameShard(target, source);
  widenVotesFor(target, target.memberCount + source.memberCount);
  const sums = target.probabilitySums;
  const more = source.probabilitySums;
  for (let i = 0; i < sums.length; i++) sums[i] += more[i]!;
  const ent = target.entropySums;
  const moreEnt = source.entropySums;
  for (let i = 0; i < ent.length; i++) ent[i] += moreEnt[i]!;
  const votes = target.votes;
  const moreVotes = source.votes;
  for (let i = 0; i < votes.length; i++) votes[i] += moreVotes[i]!;
  target.memberCount += source.memberCount;
}

function copiedArrays(
  acc: EnsembleAccumulator,
): Pick<EnsembleAccumulator, 'probabilitySums' | 'entropySums' | 'votes'> {
  if (acc.votes instanceof Uint32Array) {
    return {
      probabilitySums: acc.probabilitySums.slice(),
      entropySums: acc.entropySums.slice(),
      votes: acc.votes.slice(),
    };
  }
  const copy = newArrays(acc.entropySums.length, acc.classes);
  copy.probabilitySums.set(acc.probabilitySums);
  copy.entropySums.set(acc.entropySums);
  copy.votes.set(acc.votes);
  return copy;
}

export function cloneAccumulator(acc: EnsembleAccumulator): EnsembleAccumulator {
  assertUsable(acc);
  return {
    samples: acc.samples,
    locations: acc.locations,
    classes: acc.classes,
    globalStart: acc.globalStart,
    memberCount: acc.memberCount,
    ...copiedArrays(acc),
  };
}

/** A new accumulator holding the members of all `parts` (same shard). */
export function mergeAccumulators(parts: readonly EnsembleAccumulator[]): EnsembleAccumulator {
  if (parts.length === 0) throw new Error('mergeAccumulators needs at least one accumulator');
  const merged = cloneAccumulator(parts[0]!);
  for (let i = 1; i < parts.length; i++) mergeInto(merged, parts[i]!);
  return merged;
}
