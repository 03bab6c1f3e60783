/**
 * Gzip is not seekable, so a .gz data file is decompressed once into a cache
 * folder and later reads seek in the raw copy. The cache is keyed by the
 * sha256 of the compressed bytes, so a changed source never reuses a stale
 * copy, and clones and processes on one machine share it (the OS page cache
 * then holds one copy for all of them, unlike per-process in-memory
 * decompression). Writes are atomic: temp file, fsync, rename.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { z } from 'zod';
import type { DataConfinement } from './data-roots';
import { sha256File } from './file-hash';
import { fileError, invalidData } from './invalid-data';

export interface RawFile {
  /** The file to seek in: the source itself, or its decompressed copy. */
  path: string;
  /** What errors should name: the file the user supplied. */
  source: string;
  gzipped: boolean;
  bytes: number;
  /** sha256 of the raw (decompressed) bytes, when already known. */
  rawSha256?: string;
}

const metaSchema = z.object({
  rawBytes: z.number().int().nonnegative(),
  rawSha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** WINNOW_DATA_CACHE, else state/cache/datasets under the working folder (git-ignored). */
export function defaultDataCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.WINNOW_DATA_CACHE || path.join('state', 'cache', 'datasets'));
}

export function isGzipPath(file: string): boolean {
  return file.endsWith('.gz');
}

/**
 * Returns a seekable raw file for `source`, decompressing a .gz into `cacheDir`
 * the first time. With `confine`, `source` must lie inside the allowed data roots.
 */
export async function rawFileFor(
  source: string,
  cacheDir: string,
  hint: string,
  confine?: DataConfinement,
): Promise<RawFile> {
  await confine?.check(source, 'dataset file');
  let stat;
  try {
    stat = await fs.stat(source);
  } catch (err) {
    throw fileError(source, err, hint);
  }
  if (!stat.isFile()) throw invalidData(`${source}: not a regular file; ${hint}`);
  if (!isGzipPath(source)) return { path: source, source, gzipped: false, bytes: stat.size };

  const key = await sha256File(source);
  const rawPath = path.join(cacheDir, `${key}.raw`);
  const metaPath = path.join(cacheDir, `${key}.json`);
  const cached = await readCacheEntry(rawPath, metaPath);
  if (cached) return { path: rawPath, source, gzipped: true, bytes: cached.rawBytes, rawSha256: cached.rawSha256 };

  await fs.mkdir(cacheDir, { recursive: true });
  const suffix = `.tmp-${randomBytes(6).toString('hex')}`;
  const tempRaw = rawPath + suffix;
  const hash = createHash('sha256');
  let rawBytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      rawBytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    const out = createWriteStream(tempRaw);
    await pipeline(createReadStream(source), createGunzip(), tap, out);
    const handle = await fs.open(tempRaw, 'r+');
    await handle.sync().finally(() => handle.close());
    const meta = { rawBytes, rawSha256: hash.digest('hex') };
    await fs.rename(tempRaw, rawPath);
    // The meta file marks the entry complete; it is written last.
    await fs.writeFile(metaPath + suffix, JSON.stringify(meta));
    await fs.rename(metaPath + suffix, metaPath);
    return { path: rawPath, source, gzipped: true, bytes: rawBytes, rawSha256: meta.rawSha256 };
  } catch (err) {
    await fs.rm(tempRaw, { force: true });
    await fs.rm(metaPath + suffix, { force: true });
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (
      code.startsWith('Z_') ||
      /unexpected end of file|incorrect header check/i.test(String((err as Error).message))
    ) {
      throw invalidData(
        `${source}: gzip data is truncated or corrupt after ${rawBytes} decompressed bytes (${(err as Error).message}); ${hint}`,
      );
    }
    throw err;
  }
}

async function readCacheEntry(rawPath: string, metaPath: string): Promise<z.infer<typeof metaSchema> | undefined> {
  try {
    const meta = metaSchema.parse(JSON.parse(await fs.readFile(metaPath, 'utf8')));
    const stat = await fs.stat(rawPath);
    return stat.size === meta.rawBytes ? meta : undefined;
  } catch {
    return undefined; // absent or damaged: rebuild it
  }
}
