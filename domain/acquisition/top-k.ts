/**
 * Exact streaming top-k over score shards. Pure.
 *
 * Order: higher score first; equal scores by a seeded hash of the global
 * index (lower first), then by the index itself (lower first), so the result
 * is a total order that depends on nothing but (scores, seed). A bounded
 * min-heap of the best k seen so far (three typed arrays, 12 bytes per
 * entry) is the only state besides a bitset of excluded indices; shards are
 * looked at once and can be dropped after `add`.
 */
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { hashIndex, streamKey, TIE_BREAK_SALT } from '../../contracts/seeded-hash';
import type { ScoreShard } from './score-shard-codec';

export interface TopKOptions {
  /** How many to select; fewer come back when fewer unexcluded samples were scored. */
  k: number;
  /** Seed of the tie-break between equal scores. */
  seed: number;
  /** Global indices already in the subset: never selected. Any order. */
  exclude?: ArrayLike<number>;
  /** When set, finish() checks that the shards covered exactly [0, poolSize). */
  poolSize?: number;
}

export interface TopKResult {
  /** Selected global indices, ascending. */
  indices: Uint32Array;
  /** Samples with a score, excluded ones included. */
  scored: number;
  /** Scored samples skipped because they were excluded. */
  excluded: number;
  /** Lowest score that made it in (null when nothing was selected). */
  cutoffScore: number | null;
  /** Bytes of the selector's own arrays at their largest (heap, exclusion bitset, result). */
  workingBytes: number;
}

const INITIAL_CAPACITY = 1 << 16;

export class TopKSelector {
  private readonly k: number;
  private readonly tieKey: number;
  private readonly excludedBits: Uint32Array;
  private readonly poolSize?: number;
  private capacity = 0;
  private size = 0;
  private scores = new Float32Array(0);
  private ties = new Uint32Array(0);
  private indices = new Uint32Array(0);
  /** [start, end) of every shard added, kept sorted, to reject overlaps. */
  private readonly ranges: Array<[number, number]> = [];
  private scored = 0;
  private excludedSeen = 0;
  private finished = false;

  constructor(options: TopKOptions) {
    if (!Number.isSafeInteger(options.k) || options.k < 0) {
      throw new TypedTaskError(FailureType.InvalidConfig, `k must be a non-negative integer, got ${options.k}`);
    }
    this.k = options.k;
    this.tieKey = streamKey(options.seed, TIE_BREAK_SALT);
    this.poolSize = options.poolSize;
    const exclude = options.exclude ?? [];
    let max = -1;
    for (let i = 0; i < exclude.length; i++) {
      const index = exclude[i]!;
      const limit = options.poolSize ?? 2 ** 32;
      if (!Number.isInteger(index) || index < 0 || index >= limit) {
        throw new TypedTaskError(
          FailureType.InvalidData,
          `excluded index at position ${i} is ${index}, not an integer in [0, ${limit})`,
        );
      }
      if (index > max) max = index;
    }
    this.excludedBits = new Uint32Array(Math.ceil((max + 1) / 32));
    for (let i = 0; i < exclude.length; i++) {
      const index = exclude[i]!;
      this.excludedBits[index >>> 5]! |= 1 << (index & 31);
    }
  }

  /** Folds one shard's scores in. `source` names the shard in errors. */
  add(shard: ScoreShard, source = `shard at ${shard.globalStart}`): void {
    if (this.finished) throw new Error('TopKSelector.add after finish');
    const { globalStart, scores } = shard;
    const count = scores.length;
    this.claimRange(globalStart, globalStart + count, source);
    this.scored += count;
    const bits = this.excludedBits;
    const bitLimit = bits.length * 32;
    const k = this.k;
    for (let i = 0; i < count; i++) {
      const score = scores[i]!;
      const index = globalStart + i;
      if (index < bitLimit && (bits[index >>> 5]! >>> (index & 31)) & 1) {
        this.excludedSeen++;
        continue;
      }
      if (!(score - score === 0)) {
        throw new TypedTaskError(
          FailureType.CorruptArtifact,
          `${source}: score ${score} at offset ${i} (global sample ${index}) is not finite; rescore that shard`,
        );
      }
      if (this.size < k) {
        this.push(score, hashIndex(this.tieKey, index), index);
      } else if (score >= this.scores[0]!) {
        // Cheap reject above; the tie hash is only computed for candidates.
        const tie = hashIndex(this.tieKey, index);
        if (score > this.scores[0]! || tie < this.ties[0]! || (tie === this.ties[0]! && index < this.indices[0]!)) {
          this.replaceRoot(score, tie, index);
        }
      }
    }
  }

  finish(): TopKResult {
    this.finished = true;
    if (this.poolSize !== undefined) this.checkCoverage(this.poolSize);
    const indices = this.indices.slice(0, this.size).sort();
    let cutoff: number | null = null;
    if (this.size > 0) {
      cutoff = this.scores[0]!;
    }
    const workingBytes = this.capacity * 12 + this.excludedBits.byteLength + indices.byteLength;
    return { indices, scored: this.scored, excluded: this.excludedSeen, cutoffScore: cutoff, workingBytes };
  }

  private claimRange(start: number, end: number, source: string): void {
    if (!Number.isSafeInteger(start) || start < 0 || end > 2 ** 32) {
      throw new TypedTaskError(FailureType.InvalidData, `${source}: range [${start}, ${end}) is outside 0..2^32`);
    }
    if (start === end) return;
    const ranges = this.ranges;
    let lo = 0;
    let hi = ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ranges[mid]![0] < start) lo = mid + 1;
      else hi = mid;
    }
    const before = ranges[lo - 1];
    const after = ranges[lo];
    const clash = before && before[1] > start ? before : after && after[0] < end ? after : undefined;
    if (clash) {
      throw new TypedTaskError(
        FailureType.InvalidData,
        `${source}: samples [${start}, ${end}) overlap another shard's [${clash[0]}, ${clash[1]}); each sample must be scored in exactly one shard`,
      );
    }
    ranges.splice(lo, 0, [start, end]);
  }

  private checkCoverage(poolSize: number): void {
    let next = 0;
    for (const [start, end] of this.ranges) {
      if (start !== next) break;
      next = end;
    }
    if (next !== poolSize || this.scored !== poolSize) {
      throw new TypedTaskError(
        FailureType.InvalidData,
        `score shards cover ${this.scored} samples, first gap or overrun at global index ${next}; expected exactly [0, ${poolSize}): a shard is missing or extra`,
      );
    }
  }

  /** a is worse than b: lower score, or equal score and higher tie hash, or then higher index. */
  private worse(a: number, b: number): boolean {
    const sa = this.scores[a]!;
    const sb = this.scores[b]!;
    if (sa !== sb) return sa < sb;
    const ta = this.ties[a]!;
    const tb = this.ties[b]!;
    if (ta !== tb) return ta > tb;
    return this.indices[a]! > this.indices[b]!;
  }

  private grow(): void {
    const capacity = Math.min(this.k, Math.max(INITIAL_CAPACITY, this.capacity * 2));
    const scores = new Float32Array(capacity);
    const ties = new Uint32Array(capacity);
    const indices = new Uint32Array(capacity);
    scores.set(this.scores.subarray(0, this.size));
    ties.set(this.ties.subarray(0, this.size));
    indices.set(this.indices.subarray(0, this.size));
    this.scores = scores;
    this.ties = ties;
    this.indices = indices;
    this.capacity = capacity;
  }

  private swap(a: number, b: number): void {
    const s = this.scores[a]!;
    this.scores[a] = this.scores[b]!;
    this.scores[b] = s;
    const t = this.ties[a]!;
    this.ties[a] = this.ties[b]!;
    this.ties[b] = t;
    const i = this.indices[a]!;
    this.indices[a] = this.indices[b]!;
    this.indices[b] = i;
  }

  private push(score: number, tie: number, index: number): void {
    if (this.size === this.capacity) this.grow();
    let at = this.size++;
    this.scores[at] = score;
    this.ties[at] = tie;
    this.indices[at] = index;
    while (at > 0) {
      const parent = (at - 1) >>> 1;
      if (!this.worse(at, parent)) break;
      this.swap(at, parent);
      at = parent;
    }
  }

  private replaceRoot(score: number, tie: number, index: number): void {
    this.scores[0] = score;
    this.ties[0] = tie;
    this.indices[0] = index;
    const size = this.size;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && this.worse(right, left) ? right : left;
      if (!this.worse(child, at)) break;
      this.swap(child, at);
      at = child;
    }
  }
}

/** Top-k over in-memory shards (any order). */
export function selectTopK(shards: Iterable<ScoreShard>, options: TopKOptions): TopKResult {
  const selector = new TopKSelector(options);
  for (const shard of shards) selector.add(shard);
  return selector.finish();
}
