/**
 * Files a dataset reads by offset, wherever they live: a local folder
 * (positioned blocking reads, as record-file.ts does) or a gs:// prefix
 * (ranged downloads, several in flight). Listing gives each file's size and
 * a version that changes with its content (mtime locally, the object's
 * generation on GCS), which keys the caches built from it.
 */
import { closeSync, openSync, promises as fs, readSync } from 'node:fs';
import path from 'node:path';
import type { Bucket } from '@google-cloud/storage';
import { createStorageClient } from '../storage/gcs-store';
import { fileError, invalidData } from './invalid-data';

export interface ByteRange {
  offset: number;
  length: number;
}

export interface ShardFile {
  /** The file's name inside its folder. */
  name: string;
  /** What messages name: the path or gs:// URI. */
  uri: string;
  size: number;
  version: string;
  /** The bytes of each range, in order; a range past the end is InvalidData naming the file and offset. */
  readRanges(ranges: readonly ByteRange[]): Promise<Buffer[]>;
}

/** Ranged GET requests in flight at once per call on gs://. */
const GCS_CONCURRENCY = 16;

function endedEarly(uri: string, offset: number, missing: number): Error {
  return invalidData(
    `${uri}: ended at byte offset ${offset} while ${missing} more bytes were expected; ` +
      'the file changed or was truncated after the dataset was opened; restore it and retry',
  );
}

function localFile(dir: string, name: string, size: number, mtimeMs: number): ShardFile {
  const file = path.join(dir, name);
  return {
    name,
    uri: file,
    size,
    version: `${size}:${mtimeMs}`,
    readRanges: async (ranges) => {
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch (err) {
        throw fileError(file, err, 'restore the shard');
      }
      try {
        return ranges.map(({ offset, length }) => {
          const out = Buffer.allocUnsafe(length);
          let done = 0;
          while (done < length) {
            const n = readSync(fd, out, done, length - done, offset + done);
            if (n === 0) throw endedEarly(file, offset + done, length - done);
            done += n;
          }
          return out;
        });
      } finally {
        closeSync(fd);
      }
    },
  };
}

async function listLocal(dir: string): Promise<ShardFile[]> {
  let names: string[];
  try {
    names = (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (err) {
    throw fileError(dir, err, 'dataset.uri must name the folder that holds the shards');
  }
  const files: ShardFile[] = [];
  for (const name of names.sort()) {
    const stat = await fs.stat(path.join(dir, name));
    files.push(localFile(dir, name, stat.size, stat.mtimeMs));
  }
  return files;
}

function gcsStatus(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

function gcsFile(bucket: Bucket, objectName: string, uri: string, size: number, generation: string): ShardFile {
  const object = bucket.file(objectName, { generation });
  return {
    name: objectName.slice(objectName.lastIndexOf('/') + 1),
    uri,
    size,
    version: `${size}:${generation}`,
    readRanges: async (ranges) => {
      const out: Buffer[] = new Array<Buffer>(ranges.length);
      let next = 0;
      const worker = async () => {
        while (next < ranges.length) {
          const i = next++;
          const { offset, length } = ranges[i];
          if (offset + length > size) throw endedEarly(uri, Math.min(offset, size), offset + length - size);
          if (length === 0) {
            out[i] = Buffer.alloc(0);
            continue;
          }
          try {
            // Partial content cannot be checked against the object's whole-file hash; records carry their own CRCs.
            const [bytes] = await object.download({ start: offset, end: offset + length - 1, validation: false });
            if (bytes.length !== length) throw endedEarly(uri, offset + bytes.length, length - bytes.length);
            out[i] = bytes;
          } catch (err) {
            const status = gcsStatus(err);
            if (status === 404)
              throw invalidData(
                `${uri}: object not found (generation ${generation}); it was replaced or deleted after the dataset was opened; retry`,
              );
            throw err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(GCS_CONCURRENCY, ranges.length) }, worker));
      return out;
    },
  };
}

async function listGcs(uri: string): Promise<ShardFile[]> {
  const match = /^gs:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw invalidData(`${uri}: not a gs://bucket/folder URI`);
  const [, bucketName, rest] = match;
  const prefix = rest === '' || rest.endsWith('/') ? rest : `${rest}/`;
  const bucket = createStorageClient().bucket(bucketName);
  let objects;
  try {
    [objects] = await bucket.getFiles({ prefix, delimiter: '/', autoPaginate: true });
  } catch (err) {
    const status = gcsStatus(err);
    if (status === 404) throw invalidData(`${uri}: bucket ${bucketName} not found`);
    if (status === 403) throw invalidData(`${uri}: permission denied listing the folder`);
    throw err;
  }
  return objects
    .filter((o) => o.name !== prefix)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((o) =>
      gcsFile(bucket, o.name, `gs://${bucketName}/${o.name}`, Number(o.metadata.size), String(o.metadata.generation)),
    );
}

/** The files directly inside a folder (a local path) or a gs:// prefix, sorted by name. */
export function listShardFiles(folder: string): Promise<ShardFile[]> {
  return folder.startsWith('gs://') ? listGcs(folder) : listLocal(folder);
}
