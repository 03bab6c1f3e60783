/**
 * The I/O edge of acquisition: local files of score shards, accumulators and
 * subset manifests. Everything else in this folder is pure.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic, type WrittenObject } from '../storage/atomic-file';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { parseScoreShard, serialiseScoreShard, type ScoreShard } from './score-shard-codec';
import { parseAccumulator, serialiseAccumulator } from './accumulator-codec';
import type { EnsembleAccumulator } from './ensemble-accumulator';
import { TopKSelector, type TopKOptions, type TopKResult } from './top-k';
import { parseSubsetManifest, serialiseSubsetManifest, type SubsetManifest } from './subset-manifest';

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

/** Leftovers of interrupted atomic writes and hidden files are not shards. */
function isShardFileName(name: string): boolean {
  return !name.startsWith('.') && !name.includes('.tmp-');
}

/** The files of a folder as (name, bytes), one at a time, in name order. */
export async function* readFolderFiles(folder: string): AsyncGenerator<NamedBytes> {
  let entries;
  try {
    entries = await fs.readdir(folder, { withFileTypes: true });
  } catch (err) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `cannot list score shard folder ${folder}: ${(err as Error).message}`,
    );
  }
  const names = entries
    .filter((e) => e.isFile() && isShardFileName(e.name))
    .map((e) => e.name)
    .sort();
  for (const name of names) {
    const file = path.join(folder, name);
    yield { name: file, bytes: await fs.readFile(file) };
  }
}

/** Streaming top-k over serialised score shards; holds one shard's bytes at a time. */
export async function selectTopKFromChunks(
  chunks: AsyncIterable<NamedBytes> | Iterable<NamedBytes>,
  options: TopKOptions,
): Promise<TopKResult> {
  const selector = new TopKSelector(options);
  for await (const { name, bytes } of chunks) selector.add(parseScoreShard(bytes, name), name);
  return selector.finish();
}

export function selectTopKFromFolder(folder: string, options: TopKOptions): Promise<TopKResult> {
  return selectTopKFromChunks(readFolderFiles(folder), options);
}

export function writeScoreShardFile(file: string, shard: ScoreShard): Promise<WrittenObject> {
  return writeFileAtomic(file, serialiseScoreShard(shard));
}

export async function readScoreShardFile(file: string): Promise<ScoreShard> {
  return parseScoreShard(await fs.readFile(file), file);
}

export function writeAccumulatorFile(file: string, acc: EnsembleAccumulator): Promise<WrittenObject> {
  return writeFileAtomic(file, serialiseAccumulator(acc));
}

export async function readAccumulatorFile(file: string): Promise<EnsembleAccumulator> {
  return parseAccumulator(await fs.readFile(file), file);
}

/** Writes a subset manifest once: an existing file with other content is an error, the same content is a no-op (retries). */
export async function writeSubsetManifestFile(file: string, manifest: SubsetManifest): Promise<WrittenObject> {
  const text = Buffer.from(serialiseSubsetManifest(manifest));
  const existing = await fs.readFile(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing && !existing.equals(text)) {
    throw new TypedTaskError(
      FailureType.InvalidData,
      `${file} already holds a different subset manifest; subset manifests are immutable: write the new subset under a new round`,
    );
  }
  return writeFileAtomic(file, text);
}

export async function readSubsetManifestFile(file: string): Promise<SubsetManifest> {
  return parseSubsetManifest(await fs.readFile(file, 'utf8'), file);
}
