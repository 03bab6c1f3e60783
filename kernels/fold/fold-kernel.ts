/**
 * The WebAssembly SIMD fold kernel (fold-kernel.wat, bytes in
 * kernels/generated/fold-kernel-wasm.ts) and the memory it works in, folded a
 * bounded chunk of rows at a time. Pure. How accumulators own their memory
 * and when sums are copied in and out: docs/kernels.md, "Fold kernel".
 */
import { FOLD_KERNEL_WASM_BASE64 } from '../generated/fold-kernel-wasm';

// tsconfig has no "dom" lib: the part of the WebAssembly API used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports: Record<string, Record<string, unknown>>,
  ) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
}
declare const WebAssembly: WasmApi | undefined;

type FoldExport = (
  probs: number,
  sums: number,
  ent: number,
  votes: number,
  arg: number,
  rows: number,
  classes: number,
  tolerance: number,
) => number;

const PAGE_BYTES = 65536;
/** The kernel's scratch at address 0 (a group of rows finished one at a time, a block of classes staged); the caller's regions start after it. */
const SCRATCH_BYTES = 384;
/** Probabilities copied into wasm memory per kernel call (128 KiB of float32): the scratch stays small. */
export const CHUNK_ELEMENTS = 1 << 15;
/** Accumulators bigger than this keep ordinary arrays (wasm32 memory ends at 4 GiB). */
const MAX_KERNEL_MEMORY_BYTES = 2 ** 31;

let compiled: object | undefined;
let unavailable: string | undefined;

function kernelModule(): object | undefined {
  if (compiled || unavailable) return compiled;
  try {
    if (typeof WebAssembly === 'undefined') throw new Error('this runtime has no WebAssembly');
    compiled = new WebAssembly.Module(Buffer.from(FOLD_KERNEL_WASM_BASE64, 'base64'));
  } catch (err) {
    unavailable = `WebAssembly SIMD fold kernel unavailable (${err instanceof Error ? err.message : String(err)}); folding in JS`;
  }
  return compiled;
}

/** Whether the wasm kernel can run here; `reason` says why not. */
export function foldKernelStatus(): { available: boolean; reason?: string } {
  return kernelModule() ? { available: true } : { available: false, reason: unavailable };
}

/** One kernel instance and the memory it works in (the kernel's scratch at address 0, then the caller's regions). */
class Arena {
  readonly memory: WasmMemory;
  readonly fold: FoldExport;

  constructor(module: object, bytes: number) {
    const api = WebAssembly!;
    this.memory = new api.Memory({ initial: Math.ceil(bytes / PAGE_BYTES) });
    const instance = new api.Instance(module, { fold: { memory: this.memory, log: Math.log } });
    this.fold = instance.exports.fold as FoldExport;
  }

  ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
  }
}

/** Rows per kernel call: as many as fit in CHUNK_ELEMENTS, at least one. */
function chunkRowsFor(rows: number, classes: number): number {
  return Math.max(1, Math.min(rows, Math.floor(CHUNK_ELEMENTS / classes)));
}

interface OwnedArena {
  arena: Arena;
  entropySums: Float64Array;
  votes: Uint16Array;
  sumsAt: number;
  entAt: number;
  votesAt: number;
  argAt: number;
  probsAt: number;
}

const owned = new WeakMap<Float64Array, OwnedArena>();
let shared: Arena | undefined;

export interface KernelArrays {
  probabilitySums: Float64Array;
  entropySums: Float64Array;
  votes: Uint16Array;
}

/**
 * Zeroed accumulator arrays that live in a wasm memory of their own, so the
 * kernel folds into them in place; undefined when the kernel is unavailable
 * or the shard is too big for wasm32 memory (ordinary arrays then).
 */
export function kernelArrays(rows: number, classes: number): KernelArrays | undefined {
  const module = kernelModule();
  if (!module || rows === 0) return undefined;
  const chunkRows = chunkRowsFor(rows, classes);
  const sumsAt = SCRATCH_BYTES;
  const entAt = sumsAt + rows * classes * 8;
  const votesAt = entAt + rows * 8;
  const argAt = align16(votesAt + rows * classes * 2);
  const probsAt = argAt + chunkRows * 4;
  const end = probsAt + chunkRows * classes * 4;
  if (end > MAX_KERNEL_MEMORY_BYTES) return undefined;
  let arena: Arena;
  try {
    arena = new Arena(module, end);
  } catch {
    return undefined; // out of address space or memory: ordinary arrays still work
  }
  const buffer = arena.memory.buffer;
  const arrays = {
    probabilitySums: new Float64Array(buffer, sumsAt, rows * classes),
    entropySums: new Float64Array(buffer, entAt, rows),
    votes: new Uint16Array(buffer, votesAt, rows * classes),
  };
  owned.set(arrays.probabilitySums, {
    arena,
    entropySums: arrays.entropySums,
    votes: arrays.votes,
    sumsAt,
    entAt,
    votesAt,
    argAt,
    probsAt,
  });
  return arrays;
}

function align16(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

export interface KernelFoldTarget {
  readonly classes: number;
  readonly probabilitySums: Float64Array;
  readonly entropySums: Float64Array;
  readonly votes: Uint16Array | Uint32Array;
}

/**
 * Folds `probs` (rows x classes) into `target` with the wasm kernel.
 * Returns -1, or the first bad row (not finite, negative, all zero): rows
 * before it have been added. Throws when the kernel is unavailable.
 */
export function foldRowsWasm(target: KernelFoldTarget, probs: Float32Array, tolerance: number): number {
  const module = kernelModule();
  if (!module) throw new Error(unavailable);
  const C = target.classes;
  const rows = target.entropySums.length;
  const sums = target.probabilitySums;
  const ents = target.entropySums;
  const votes = target.votes;
  const chunkRows = chunkRowsFor(rows, C);
  const mine = owned.get(sums);
  const inPlace = mine !== undefined && mine.entropySums === ents;
  const votesInPlace = inPlace && mine.votes === votes;
  let arena: Arena;
  let sumsAt: number;
  let entAt: number;
  let argAt: number;
  let probsAt: number;
  if (inPlace) {
    ({ arena, sumsAt, entAt, argAt, probsAt } = mine);
  } else {
    sumsAt = SCRATCH_BYTES;
    entAt = sumsAt + chunkRows * C * 8;
    argAt = entAt + chunkRows * 8;
    probsAt = argAt + chunkRows * 4;
    const end = probsAt + chunkRows * C * 4;
    shared ??= new Arena(module, end);
    arena = shared;
    arena.ensure(end);
  }
  const buffer = arena.memory.buffer;
  const fold = arena.fold;
  const args = new Int32Array(buffer, argAt, chunkRows);
  const probsIn = new Float32Array(buffer, probsAt, chunkRows * C);
  const sumsIn = inPlace ? undefined : new Float64Array(buffer, sumsAt, chunkRows * C);
  const entsIn = inPlace ? undefined : new Float64Array(buffer, entAt, chunkRows);
  for (let first = 0; first < rows; first += chunkRows) {
    const n = Math.min(chunkRows, rows - first);
    const from = first * C;
    const to = from + n * C;
    probsIn.set(probs.subarray(from, to));
    let bad: number;
    if (sumsIn && entsIn) {
      sumsIn.set(sums.subarray(from, to));
      entsIn.set(ents.subarray(first, first + n));
      bad = fold(probsAt, sumsAt, entAt, 0, argAt, n, C, tolerance);
      sums.set(sumsIn.subarray(0, n * C), from);
      ents.set(entsIn.subarray(0, n), first);
    } else {
      const votesAt = votesInPlace ? mine!.votesAt + from * 2 : 0;
      bad = fold(probsAt, sumsAt + from * 8, entAt + first * 8, votesAt, argAt, n, C, tolerance);
    }
    if (!votesInPlace) {
      const voted = bad < 0 ? n : bad;
      for (let i = 0, base = from; i < voted; i++, base += C) votes[base + args[i]!]++;
    }
    if (bad >= 0) return first + bad;
  }
  return -1;
}
