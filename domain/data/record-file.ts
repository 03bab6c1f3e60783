/**
 * Positioned reads of fixed-size records from one or more files (a split
 * may span several files, e.g. CIFAR-10's five training batches). Only the
 * requested records are read; files are opened per call and closed after.
 */
import { closeSync, openSync, promises as fs, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { RawFile } from './gunzip-cache';
import { invalidData } from './invalid-data';
import type { Run } from './read-plan';

export interface RecordSegment {
  file: RawFile;
  /** Byte offset of the first record in the (raw) file. */
  headerBytes: number;
  count: number;
}

export class RecordReader {
  readonly count: number;
  private readonly firsts: number[] = [];

  constructor(
    readonly segments: readonly RecordSegment[],
    readonly recordBytes: number,
  ) {
    let total = 0;
    for (const segment of segments) {
      this.firsts.push(total);
      total += segment.count;
    }
    this.count = total;
  }

  /**
   * One buffer per run holding its records back to back. Uses blocking
   * positioned reads: this layer runs in compute child processes whose event
   * loop has nothing else to do meanwhile, and for scattered small records
   * they measured about 4x faster than FileHandle.read (no thread-pool hop).
   */
  async readRuns(runs: readonly Run[]): Promise<Buffer[]> {
    const fds = new Map<number, number>();
    try {
      return runs.map((run) => {
        const buffer = Buffer.allocUnsafe(run.count * this.recordBytes);
        for (let s = 0; s < this.segments.length; s++) {
          const first = this.firsts[s];
          const from = Math.max(run.start, first);
          const to = Math.min(run.start + run.count, first + this.segments[s].count);
          if (from >= to) continue;
          const segment = this.segments[s];
          let fd = fds.get(s);
          if (fd === undefined) {
            fd = openSync(segment.file.path, 'r');
            fds.set(s, fd);
          }
          const position = segment.headerBytes + (from - first) * this.recordBytes;
          const target = buffer.subarray((from - run.start) * this.recordBytes, (to - run.start) * this.recordBytes);
          readFullySync(fd, target, position, segment.file);
        }
        return buffer;
      });
    } finally {
      for (const fd of fds.values()) closeSync(fd);
    }
  }

  /** Streams the records of every segment in order, in chunks of whole records. */
  async forEachChunk(visit: (records: Buffer, firstIndex: number, segment: RecordSegment) => void): Promise<void> {
    const perChunk = Math.max(1, Math.floor((4 << 20) / this.recordBytes));
    for (let s = 0; s < this.segments.length; s++) {
      const segment = this.segments[s];
      const handle = await fs.open(segment.file.path, 'r');
      try {
        for (let done = 0; done < segment.count; done += perChunk) {
          const n = Math.min(perChunk, segment.count - done);
          const buffer = Buffer.allocUnsafe(n * this.recordBytes);
          await readFully(handle, buffer, segment.headerBytes + done * this.recordBytes, segment.file);
          visit(buffer, this.firsts[s] + done, segment);
        }
      } finally {
        await handle.close();
      }
    }
  }
}

function readFullySync(fd: number, target: Buffer, position: number, file: RawFile): void {
  let done = 0;
  while (done < target.length) {
    const bytesRead = readSync(fd, target, done, target.length - done, position + done);
    if (bytesRead === 0) throw endedEarly(file, position + done, target.length - done);
    done += bytesRead;
  }
}

async function readFully(handle: FileHandle, target: Buffer, position: number, file: RawFile): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) throw endedEarly(file, position + done, target.length - done);
    done += bytesRead;
  }
}

function endedEarly(file: RawFile, offset: number, missing: number): Error {
  return invalidData(
    `${describeFile(file)}: ended at byte offset ${offset} while ${missing} more bytes were expected; ` +
      'the file changed or was truncated after the dataset was opened; restore it and retry',
  );
}

export function describeFile(file: RawFile): string {
  return file.gzipped ? `${file.source} (decompressed copy ${file.path})` : file.source;
}
