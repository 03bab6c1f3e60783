/**
 * A record index per TFRecord shard: where each record starts, how long it
 * is, and its label, so that any record is one positioned read away. Built
 * by one sequential pass that checks every CRC and hashes the shard (the
 * hash goes into the dataset's fingerprint), then kept in the worker's data
 * cache, keyed by the shard's URI, size and version, so later opens read a
 * small file instead of the shard.
 *
 * TFRecord framing, per record: uint64 length, uint32 masked CRC-32C of the
 * length bytes, the data, uint32 masked CRC-32C of the data (little endian).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../storage/atomic-file';
import { maskedCrc32c } from './crc32c';
import { invalidData } from './invalid-data';
import type { ShardFile } from './shard-files';
import { ExampleFormatError, parseExample, type Feature } from './tf-example';

export interface FeatureKeys {
  image: string;
  label: string;
}

export interface ShardIndex {
  count: number;
  /** Byte offset of each record's frame. */
  offsets: Float64Array;
  /** Each record's data length (the frame is 16 bytes longer). */
  lengths: Uint32Array;
  /** The label feature as stored (no offset applied). */
  labels: Int32Array;
  /** sha256 of the whole shard. */
  sha256: string;
}

export const FRAME_OVERHEAD = 16;
const SCAN_BLOCK = 8 << 20;
const MAX_RECORD = 1 << 30;
const MAGIC = Buffer.from('WNTFIX01', 'latin1');

/** Where record `record` (at byte `offset`) of `uri` went wrong, as InvalidData. */
export function recordError(uri: string, record: number, offset: number, what: string): Error {
  return invalidData(`${uri}: record ${record} at byte offset ${offset}: ${what}`);
}

/** Checks a frame's 12-byte header (length and its CRC) and returns the data length. */
export function checkHeader(header: Buffer, uri: string, record: number, offset: number): number {
  if (maskedCrc32c(header, 0, 8) !== header.readUInt32LE(8)) {
    const gzip = record === 0 && header[0] === 0x1f && header[1] === 0x8b;
    throw recordError(
      uri,
      record,
      offset,
      gzip
        ? 'the shard is GZIP-compressed; compressed TFRecords cannot be read by offset, write the shards uncompressed'
        : 'length CRC mismatch; the shard is corrupt or not a TFRecord file',
    );
  }
  const length = header.readUInt32LE(0) + header.readUInt32LE(4) * 2 ** 32;
  if (length > MAX_RECORD) throw recordError(uri, record, offset, `record length ${length} is over 1 GiB`);
  return length;
}

/** Checks one whole record frame (header, data, trailer) and returns its data. */
export function checkFrame(frame: Buffer, uri: string, record: number, offset: number): Buffer {
  const length = checkHeader(frame, uri, record, offset);
  if (length + FRAME_OVERHEAD !== frame.length) {
    throw recordError(
      uri,
      record,
      offset,
      `length ${length} does not match the index (the shard changed after indexing)`,
    );
  }
  const end = 12 + length;
  const stored = frame.readUInt32LE(end);
  const computed = maskedCrc32c(frame, 12, end);
  if (stored !== computed) {
    throw recordError(
      uri,
      record,
      offset,
      `data CRC mismatch (stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)}); the shard is corrupt, restore it`,
    );
  }
  return frame.subarray(12, end);
}

function describeFeature(feature: Feature | undefined): string {
  return feature === undefined ? 'missing' : `a ${feature.kind} list of ${feature.values.length}`;
}

/** The image bytes and label of one record's Example, or InvalidData naming the record. */
export function readExampleFields(
  data: Uint8Array,
  keys: FeatureKeys,
  uri: string,
  record: number,
  offset: number,
): { image: Uint8Array; label: number } {
  let features: Map<string, Feature>;
  try {
    features = parseExample(data);
  } catch (err) {
    if (err instanceof ExampleFormatError) {
      throw recordError(uri, record, offset, `not a tf.train.Example (${err.message})`);
    }
    throw err;
  }
  const image = features.get(keys.image);
  const label = features.get(keys.label);
  if (image?.kind !== 'bytes' || image.values.length !== 1) {
    throw recordError(
      uri,
      record,
      offset,
      `feature "${keys.image}" must hold one encoded image (bytes), found ${describeFeature(image)}; ` +
        `features present: ${[...features.keys()].join(', ') || 'none'} (set dataset.tfrecord.imageFeature)`,
    );
  }
  if (label?.kind !== 'int64' || label.values.length !== 1) {
    throw recordError(
      uri,
      record,
      offset,
      `feature "${keys.label}" must hold one int64 label, found ${describeFeature(label)}; ` +
        `features present: ${[...features.keys()].join(', ') || 'none'} (set dataset.tfrecord.labelFeature)`,
    );
  }
  const value = label.values[0];
  if (!Number.isSafeInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
    throw recordError(uri, record, offset, `label ${value} is out of range`);
  }
  return { image: image.values[0], label: value };
}

/** Reads the shard once from start to end: every frame and CRC checked, every label read, the bytes hashed. */
export async function scanShard(file: ShardFile, keys: FeatureKeys): Promise<ShardIndex> {
  const offsets: number[] = [];
  const lengths: number[] = [];
  const labels: number[] = [];
  const hash = createHash('sha256');
  let pending: Buffer = Buffer.alloc(0);
  let pendingAt = 0; // file offset of pending[0]
  let readTo = 0;
  const need = async (bytes: number): Promise<boolean> => {
    while (pending.length < bytes && readTo < file.size) {
      const length = Math.min(Math.max(SCAN_BLOCK, bytes - pending.length), file.size - readTo);
      const [block] = await file.readRanges([{ offset: readTo, length }]);
      hash.update(block);
      readTo += length;
      pending = pending.length === 0 ? block : Buffer.concat([pending, block]);
    }
    return pending.length >= bytes;
  };
  while (await need(1)) {
    const record = offsets.length;
    if (!(await need(12))) {
      throw recordError(
        file.uri,
        record,
        pendingAt,
        `the file ends inside a record header (${pending.length} bytes left)`,
      );
    }
    const length = checkHeader(pending, file.uri, record, pendingAt);
    const frameLength = length + FRAME_OVERHEAD;
    if (!(await need(frameLength))) {
      throw recordError(
        file.uri,
        record,
        pendingAt,
        `the file ends inside the record (${length} data bytes announced, ${pending.length - 12} present); the shard is truncated`,
      );
    }
    const data = checkFrame(pending.subarray(0, frameLength), file.uri, record, pendingAt);
    const { label } = readExampleFields(data, keys, file.uri, record, pendingAt);
    offsets.push(pendingAt);
    lengths.push(length);
    labels.push(label);
    pending = pending.subarray(frameLength);
    pendingAt += frameLength;
  }
  return {
    count: offsets.length,
    offsets: Float64Array.from(offsets),
    lengths: Uint32Array.from(lengths),
    labels: Int32Array.from(labels),
    sha256: hash.digest('hex'),
  };
}

const headerSchema = z.strictObject({
  uri: z.string(),
  version: z.string(),
  image: z.string(),
  label: z.string(),
  count: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
type IndexHeader = z.infer<typeof headerSchema>;

export function encodeIndex(index: ShardIndex, header: Omit<IndexHeader, 'count' | 'sha256'>): Buffer {
  const json = Buffer.from(JSON.stringify({ ...header, count: index.count, sha256: index.sha256 }), 'utf8');
  const head = Buffer.alloc(12);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(json.length, 8);
  // Pad so that the Float64Array that follows starts 8-byte aligned.
  const pad = Buffer.alloc((8 - ((12 + json.length) % 8)) % 8);
  return Buffer.concat([
    head,
    json,
    pad,
    Buffer.from(index.offsets.buffer, index.offsets.byteOffset, index.offsets.byteLength),
    Buffer.from(index.lengths.buffer, index.lengths.byteOffset, index.lengths.byteLength),
    Buffer.from(index.labels.buffer, index.labels.byteOffset, index.labels.byteLength),
  ]);
}

/** The index in `bytes` when it is whole and made for `expected`; undefined otherwise (then it is rebuilt). */
export function decodeIndex(bytes: Buffer, expected: Omit<IndexHeader, 'count' | 'sha256'>): ShardIndex | undefined {
  if (bytes.length < 12 || !bytes.subarray(0, 8).equals(MAGIC)) return undefined;
  const jsonLength = bytes.readUInt32LE(8);
  let header: IndexHeader;
  try {
    header = headerSchema.parse(JSON.parse(bytes.subarray(12, 12 + jsonLength).toString('utf8')));
  } catch {
    return undefined;
  }
  if (
    header.uri !== expected.uri ||
    header.version !== expected.version ||
    header.image !== expected.image ||
    header.label !== expected.label
  ) {
    return undefined;
  }
  const start = 12 + jsonLength + ((8 - ((12 + jsonLength) % 8)) % 8);
  const n = header.count;
  if (bytes.length !== start + n * 16) return undefined;
  const copy = (at: number, length: number) => new Uint8Array(bytes.subarray(at, at + length)).buffer;
  return {
    count: n,
    offsets: new Float64Array(copy(start, n * 8)),
    lengths: new Uint32Array(copy(start + n * 8, n * 4)),
    labels: new Int32Array(copy(start + n * 12, n * 4)),
    sha256: header.sha256,
  };
}

/** The shard's index from the cache folder, else scanned and cached (atomically; a concurrent builder writes the same bytes). */
export async function loadShardIndex(file: ShardFile, keys: FeatureKeys, cacheDir: string): Promise<ShardIndex> {
  const header = { uri: file.uri, version: file.version, image: keys.image, label: keys.label };
  const name = createHash('sha256').update(JSON.stringify(header)).digest('hex').slice(0, 32);
  const cached = path.join(cacheDir, 'tfrecord-index', `${name}.idx`);
  try {
    const index = decodeIndex(await fs.readFile(cached), header);
    if (index) return index;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const index = await scanShard(file, keys);
  await writeFileAtomic(cached, encodeIndex(index, header));
  return index;
}
