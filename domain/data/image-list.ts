/**
 * A dataset over a list of image files per split (from a JSONL manifest or an
 * image folder): images are read and decoded per read, a few at a time, and
 * fitted to the dataset's shape; the fingerprint hashes the lists (and, on
 * request, every image). Each entry says how errors name it.
 */
import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import { assembleDataset, splits, type ByteBatch, type Dataset, type SplitSource } from './dataset';
import type { DataConfinement } from './data-roots';
import { sha256Json } from './file-hash';
import { decodeImage, fitImage } from './image-decode';
import { invalidData } from './invalid-data';

export interface ImageEntry {
  file: string;
  label: number;
  /** What messages put before the file's path, e.g. "train.jsonl: line 3: image". */
  where: string;
}

export interface ImageList {
  entries: ImageEntry[];
  /** The bytes the fingerprint hashes: the manifest, or the folder's listing. */
  listing: Uint8Array;
}

export interface ImageListSpec {
  /** The dataset kind, also the fingerprint's format tag. */
  format: string;
  name: string;
  shape: [number, number, 1 | 3];
  numClasses: number;
  classNames?: string[];
  train: ImageList;
  test: ImageList;
  /** How the user drops a bad image, e.g. "remove the line". */
  removeHint: string;
  /** Also hash every image file into the fingerprint (reads the whole set once). */
  hashImages?: boolean;
  /** Every image is checked against the data roots at read time (links may lead out of an allowed folder). */
  confine?: DataConfinement;
}

const READ_CONCURRENCY = 8;

export function imageListDataset(spec: ImageListSpec): Dataset {
  const [height, width, channels] = spec.shape;
  const sampleBytes = height * width * channels;

  const loadInto = async (entry: ImageEntry, out: Uint8Array, offset: number) => {
    await spec.confine?.check(entry.file, entry.where);
    let bytes: Buffer;
    try {
      // Images are small: one blocking read beats the thread-pool round trip of fs.readFile (4,000 vs 5,500 images/s).
      bytes = readFileSync(entry.file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw invalidData(
        `${entry.where} ${entry.file}: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}; ` +
          `restore the image or ${spec.removeHint}`,
      );
    }
    try {
      fitImage(decodeImage(bytes), height, width, channels, out, offset);
    } catch (err) {
      throw invalidData(
        `${entry.where} ${entry.file} (${bytes.length} bytes) cannot be decoded: ${(err as Error).message}; ` +
          `replace it with a valid PNG or JPEG or ${spec.removeHint}`,
      );
    }
  };

  const source = (list: ImageList): SplitSource => {
    const labels = Int32Array.from(list.entries, (e) => e.label);
    return {
      count: list.entries.length,
      maxGap: 0,
      readRuns: async (runs) => {
        const batches: ByteBatch[] = runs.map((run) => ({
          count: run.count,
          pixels: new Uint8Array(run.count * sampleBytes),
          labels: labels.slice(run.start, run.start + run.count),
        }));
        const jobs: Array<() => Promise<void>> = [];
        runs.forEach((run, r) => {
          for (let k = 0; k < run.count; k++) {
            jobs.push(() => loadInto(list.entries[run.start + k], batches[r].pixels, k * sampleBytes));
          }
        });
        await runLimited(jobs, READ_CONCURRENCY);
        return batches;
      },
      readLabels: async () => labels,
    };
  };

  return assembleDataset({
    info: {
      kind: spec.format,
      name: spec.name,
      samples: { train: spec.train.entries.length, test: spec.test.entries.length },
      shape: spec.shape,
      numClasses: spec.numClasses,
      classNames: spec.classNames,
    },
    sources: { train: source(spec.train), test: source(spec.test) },
    computeFingerprint: async () => {
      const lists = { train: spec.train, test: spec.test };
      const description: Record<string, unknown> = {
        format: spec.format,
        shape: spec.shape,
        numClasses: spec.numClasses,
      };
      for (const split of splits) {
        const list = lists[split];
        description[split] = createHash('sha256').update(list.listing).digest('hex');
        if (spec.hashImages) {
          const hashes: string[] = [];
          for (const entry of list.entries) {
            hashes.push(
              createHash('sha256')
                .update(await fs.readFile(entry.file))
                .digest('hex'),
            );
          }
          description[`${split}Images`] = hashes;
        }
      }
      return sha256Json(description);
    },
  });
}

/** Runs jobs with at most `limit` in flight; the first failure rejects (others are left to settle). */
async function runLimited(jobs: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}
