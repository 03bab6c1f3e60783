/** sha256 on the way in and out of a store, without holding objects in memory. */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { PutBody } from './store';
import { corruptArtifact } from './store-errors';

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The body as an async iterable of Buffers (bytes become one chunk). */
export async function* chunksOf(body: PutBody): AsyncGenerator<Buffer> {
  if (body instanceof Uint8Array) {
    yield Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return;
  }
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    yield typeof chunk === 'string'
      ? Buffer.from(chunk)
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/** Passes bytes through and counts and hashes them. */
export class HashingCounter {
  private readonly hash = createHash('sha256');
  bytes = 0;
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * A pass-through that hashes what flows and, at the end, fails with
 * CorruptArtifact unless the digest equals every expected one.
 */
export function verifyingStream(uri: string, expected: { sha256: string; source: string }[]): Transform {
  const counter = new HashingCounter();
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      counter.update(chunk);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      const actual = counter.digest();
      const wrong = expected.find((e) => e.sha256 !== actual);
      done(
        wrong ? corruptArtifact(uri, wrong.sha256, actual, ` (${wrong.source}; ${counter.bytes} bytes read)`) : null,
      );
    },
  });
}

/** Reads a stream to one Buffer. */
export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}
