/**
 * Helpers shared by the artifact formats of this folder: header checksums,
 * JSON artifacts checked by a schema, and the CorruptArtifact errors parsers throw. Pure (node:crypto
 * hashes bytes in memory; no I/O).
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { FailureType, TypedTaskError } from '../../contracts/failures';

/** The formats store typed arrays in host order; refuse to run where that is not little-endian. */
export const hostIsLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function assertLittleEndianHost(): void {
  if (!hostIsLittleEndian) throw new Error('winnow acquisition artifacts need a little-endian host');
}

export function corruptArtifact(source: string, what: string): TypedTaskError {
  return new TypedTaskError(
    FailureType.CorruptArtifact,
    `${source}: ${what}; the artifact is damaged or was written by another program: rewrite it by re-running the step that produced it`,
  );
}

/** Parses a JSON artifact and checks it against `schema`; throws CorruptArtifact naming `source` and every problem. */
export function parseJsonArtifact<T>(text: string, schema: z.ZodType<T>, source: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw corruptArtifact(source, `not JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw corruptArtifact(
      source,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
    );
  }
  return parsed.data;
}

/** sha256 over the header bytes before the checksum field, then every body part in order. */
export function checksumOf(headerBeforeChecksum: Uint8Array, bodyParts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  hash.update(headerBeforeChecksum);
  for (const part of bodyParts) hash.update(part);
  return new Uint8Array(hash.digest());
}

export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function magicOf(bytes: Uint8Array, offset: number): string {
  return JSON.stringify(Buffer.from(bytes.buffer, bytes.byteOffset + offset, 4).toString('latin1'));
}

/** Copies `length` elements of a typed array type out of `bytes` at `offset` (copying also aligns them). */
export function copyOut<T>(
  bytes: Uint8Array,
  offset: number,
  length: number,
  make: (buffer: ArrayBuffer) => T,
  elementBytes: number,
): T {
  const copy = new Uint8Array(length * elementBytes);
  copy.set(bytes.subarray(offset, offset + length * elementBytes));
  return make(copy.buffer);
}
