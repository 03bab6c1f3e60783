/** Crash-safe local writes: temp file, fsync, rename (or link); readers never see half a file. */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { chunksOf, HashingCounter } from './digest';

export interface WrittenObject {
  path: string;
  bytes: number;
  sha256: string;
}

/** Temp files sit next to their target; this matches their names (listings skip them). */
export const tempFilePattern = /\.tmp-[0-9a-f]{12}$/;

/** Streams `chunks` into a fresh temp file beside `target`, fsyncs it, and returns its path, size and digest. */
export async function writeTempFile(target: string, chunks: AsyncIterable<Uint8Array>): Promise<WrittenObject> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
  const counter = new HashingCounter();
  const handle = await fs.open(temp, 'wx');
  try {
    for await (const chunk of chunks) {
      counter.update(chunk);
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
        offset += bytesWritten;
      }
    }
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  return { path: temp, bytes: counter.bytes, sha256: counter.digest() };
}

/**
 * Moves a temp file onto `target`. With `createOnly`, an existing target is
 * kept (hard link fails atomically) and false is returned; the temp file is
 * removed either way, unless `keepTempIfExisting` asks to keep it then (the
 * caller commits or removes it).
 */
export async function commitTempFile(
  temp: string,
  target: string,
  createOnly = false,
  keepTempIfExisting = false,
): Promise<boolean> {
  let keep = false;
  try {
    if (createOnly) {
      try {
        await fs.link(temp, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          keep = keepTempIfExisting;
          return false;
        }
        throw err;
      }
    } else {
      await fs.rename(temp, target);
    }
  } finally {
    if (!keep) await fs.rm(temp, { force: true });
  }
  await syncDirectory(path.dirname(target));
  return true;
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems refuse fsync on directories; the data itself is already synced.
    if (!['EINVAL', 'EISDIR', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await handle.close();
  }
}

/** Writes bytes atomically, replacing any existing file. */
export async function writeFileAtomic(target: string, data: Uint8Array): Promise<WrittenObject> {
  const written = await writeTempFile(target, chunksOf(data));
  await commitTempFile(written.path, target);
  return { ...written, path: target };
}
