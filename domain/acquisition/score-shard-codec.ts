/**
 * Binary score shard: the scores of a contiguous range of the pool. Pure.
 *
 * Layout (little-endian), 48-byte header then body:
 *   0  magic "WNSS"     4  version u16 (1)     6  reserved u16 (0)
 *   8  global start u32                        12  count u32
 *  16  sha256 of header bytes 0..15 followed by the body
 *  48  scores f32[count]
 */
import {
  assertLittleEndianHost,
  bytesOf,
  checksumOf,
  copyOut,
  corruptArtifact,
  equalBytes,
  hex,
  magicOf,
} from './binary-format';

export const SCORE_SHARD_MAGIC = 'WNSS';
export const SCORE_SHARD_VERSION = 1;
export const SCORE_SHARD_HEADER_BYTES = 48;
const CHECKSUM_OFFSET = 16;

export interface ScoreShard {
  /** Global pool index of scores[0]. */
  globalStart: number;
  scores: Float32Array;
}

export function serialiseScoreShard(shard: ScoreShard): Uint8Array {
  assertLittleEndianHost();
  const { globalStart, scores } = shard;
  if (!Number.isSafeInteger(globalStart) || globalStart < 0 || globalStart + scores.length > 2 ** 32) {
    throw new RangeError(`score shard [${globalStart}, ${globalStart + scores.length}) is outside 0..2^32`);
  }
  const out = new Uint8Array(SCORE_SHARD_HEADER_BYTES + scores.byteLength);
  const view = new DataView(out.buffer);
  out.set(Buffer.from(SCORE_SHARD_MAGIC, 'latin1'), 0);
  view.setUint16(4, SCORE_SHARD_VERSION, true);
  view.setUint16(6, 0, true);
  view.setUint32(8, globalStart, true);
  view.setUint32(12, scores.length, true);
  out.set(bytesOf(scores), SCORE_SHARD_HEADER_BYTES);
  out.set(checksumOf(out.subarray(0, CHECKSUM_OFFSET), [out.subarray(SCORE_SHARD_HEADER_BYTES)]), CHECKSUM_OFFSET);
  return out;
}

/** Parses and verifies a score shard; throws CorruptArtifact naming `source` and what is wrong. */
export function parseScoreShard(bytes: Uint8Array, source = 'score shard'): ScoreShard {
  assertLittleEndianHost();
  if (bytes.length < SCORE_SHARD_HEADER_BYTES) {
    throw corruptArtifact(source, `${bytes.length} bytes is shorter than the ${SCORE_SHARD_HEADER_BYTES}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (magicOf(bytes, 0) !== JSON.stringify(SCORE_SHARD_MAGIC)) {
    throw corruptArtifact(source, `bad magic ${magicOf(bytes, 0)} at offset 0 (expected "${SCORE_SHARD_MAGIC}")`);
  }
  const version = view.getUint16(4, true);
  if (version !== SCORE_SHARD_VERSION) {
    throw corruptArtifact(
      source,
      `unsupported version ${version} at offset 4 (this build reads version ${SCORE_SHARD_VERSION})`,
    );
  }
  const reserved = view.getUint16(6, true);
  if (reserved !== 0) throw corruptArtifact(source, `reserved field at offset 6 is ${reserved}, expected 0`);
  const globalStart = view.getUint32(8, true);
  const count = view.getUint32(12, true);
  if (globalStart + count > 2 ** 32)
    throw corruptArtifact(source, `scores [${globalStart}, ${globalStart + count}) pass the 2^32 index limit`);
  const expected = SCORE_SHARD_HEADER_BYTES + count * 4;
  if (bytes.length !== expected) {
    throw corruptArtifact(
      source,
      `size ${bytes.length} bytes does not match the header (${count} scores need ${expected})`,
    );
  }
  const stored = bytes.subarray(CHECKSUM_OFFSET, SCORE_SHARD_HEADER_BYTES);
  const actual = checksumOf(bytes.subarray(0, CHECKSUM_OFFSET), [bytes.subarray(SCORE_SHARD_HEADER_BYTES)]);
  if (!equalBytes(stored, actual)) {
    throw corruptArtifact(source, `sha256 mismatch: header says ${hex(stored)}, content hashes to ${hex(actual)}`);
  }
  return { globalStart, scores: copyOut(bytes, SCORE_SHARD_HEADER_BYTES, count, (b) => new Float32Array(b), 4) };
}
