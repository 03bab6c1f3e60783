/**
 * Binary form of an ensemble accumulator, for the artifact store. Pure.
 *
 * Layout (little-endian), 64-byte header then body:
 *   0  magic "WNAC"            4  version u16 (1)      6  vote bytes u16 (2|4)
 *   8  samples u32            12  locations u32       16  classes u32
 *  20  members u32            24  global start u32    28  reserved u32 (0)
 *  32  sha256 of header bytes 0..31 followed by the body
 *  64  probability sums f64[rows*classes], entropy sums f64[rows],
 *      votes u16|u32[rows*classes]            (rows = samples*locations)
 */
import type { EnsembleAccumulator } from './ensemble-accumulator';
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

export const ACCUMULATOR_MAGIC = 'WNAC';
export const ACCUMULATOR_VERSION = 1;
export const ACCUMULATOR_HEADER_BYTES = 64;
const CHECKSUM_OFFSET = 32;

function bodyBytes(rows: number, classes: number, voteBytes: number): number {
  return rows * classes * 8 + rows * 8 + rows * classes * voteBytes;
}

export function serialiseAccumulator(acc: EnsembleAccumulator): Uint8Array {
  assertLittleEndianHost();
  if (acc.poisoned) throw new Error(`cannot serialise an accumulator after a failed fold (${acc.poisoned})`);
  const rows = acc.samples * acc.locations;
  const voteBytes = acc.votes.BYTES_PER_ELEMENT;
  const out = new Uint8Array(ACCUMULATOR_HEADER_BYTES + bodyBytes(rows, acc.classes, voteBytes));
  const view = new DataView(out.buffer);
  out.set(Buffer.from(ACCUMULATOR_MAGIC, 'latin1'), 0);
  view.setUint16(4, ACCUMULATOR_VERSION, true);
  view.setUint16(6, voteBytes, true);
  view.setUint32(8, acc.samples, true);
  view.setUint32(12, acc.locations, true);
  view.setUint32(16, acc.classes, true);
  view.setUint32(20, acc.memberCount, true);
  view.setUint32(24, acc.globalStart, true);
  view.setUint32(28, 0, true);
  const parts = [bytesOf(acc.probabilitySums), bytesOf(acc.entropySums), bytesOf(acc.votes)];
  let offset = ACCUMULATOR_HEADER_BYTES;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  out.set(checksumOf(out.subarray(0, CHECKSUM_OFFSET), [out.subarray(ACCUMULATOR_HEADER_BYTES)]), CHECKSUM_OFFSET);
  return out;
}

/** Parses and verifies an accumulator; throws CorruptArtifact naming `source` and what is wrong. */
export function parseAccumulator(bytes: Uint8Array, source = 'accumulator'): EnsembleAccumulator {
  assertLittleEndianHost();
  if (bytes.length < ACCUMULATOR_HEADER_BYTES) {
    throw corruptArtifact(source, `${bytes.length} bytes is shorter than the ${ACCUMULATOR_HEADER_BYTES}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (magicOf(bytes, 0) !== JSON.stringify(ACCUMULATOR_MAGIC)) {
    throw corruptArtifact(source, `bad magic ${magicOf(bytes, 0)} at offset 0 (expected "${ACCUMULATOR_MAGIC}")`);
  }
  const version = view.getUint16(4, true);
  if (version !== ACCUMULATOR_VERSION) {
    throw corruptArtifact(
      source,
      `unsupported version ${version} at offset 4 (this build reads version ${ACCUMULATOR_VERSION})`,
    );
  }
  const voteBytes = view.getUint16(6, true);
  const samples = view.getUint32(8, true);
  const locations = view.getUint32(12, true);
  const classes = view.getUint32(16, true);
  const members = view.getUint32(20, true);
  const globalStart = view.getUint32(24, true);
  const reserved = view.getUint32(28, true);
  if (voteBytes !== 2 && voteBytes !== 4)
    throw corruptArtifact(source, `vote width ${voteBytes} at offset 6 is not 2 or 4`);
  if (voteBytes === 2 && members > 0xffff) throw corruptArtifact(source, `${members} members do not fit 16-bit votes`);
  if (locations < 1 || classes < 1)
    throw corruptArtifact(source, `locations ${locations} and classes ${classes} must be at least 1`);
  if (globalStart + samples > 2 ** 32)
    throw corruptArtifact(source, `samples [${globalStart}, ${globalStart + samples}) pass the 2^32 index limit`);
  if (reserved !== 0) throw corruptArtifact(source, `reserved field at offset 28 is ${reserved}, expected 0`);
  const rows = samples * locations;
  const expected = ACCUMULATOR_HEADER_BYTES + bodyBytes(rows, classes, voteBytes);
  if (bytes.length !== expected) {
    throw corruptArtifact(
      source,
      `size ${bytes.length} bytes does not match the header (${samples} samples x ${locations} locations x ${classes} classes needs ${expected})`,
    );
  }
  const stored = bytes.subarray(CHECKSUM_OFFSET, ACCUMULATOR_HEADER_BYTES);
  const actual = checksumOf(bytes.subarray(0, CHECKSUM_OFFSET), [bytes.subarray(ACCUMULATOR_HEADER_BYTES)]);
  if (!equalBytes(stored, actual)) {
    throw corruptArtifact(source, `sha256 mismatch: header says ${hex(stored)}, content hashes to ${hex(actual)}`);
  }
  let offset = ACCUMULATOR_HEADER_BYTES;
  const probabilitySums = copyOut(bytes, offset, rows * classes, (b) => new Float64Array(b), 8);
  offset += rows * classes * 8;
  const entropySums = copyOut(bytes, offset, rows, (b) => new Float64Array(b), 8);
  offset += rows * 8;
  const votes =
    voteBytes === 2
      ? copyOut(bytes, offset, rows * classes, (b) => new Uint16Array(b), 2)
      : copyOut(bytes, offset, rows * classes, (b) => new Uint32Array(b), 4);
  // Each member casts exactly one vote per row: a cheap check against a producer bug.
  for (let row = 0; row < rows; row++) {
    let total = 0;
    for (let c = 0; c < classes; c++) total += votes[row * classes + c]!;
    if (total !== members) throw corruptArtifact(source, `row ${row} has ${total} votes for ${members} members`);
  }
  return { samples, locations, classes, globalStart, memberCount: members, probabilitySums, entropySums, votes };
}
