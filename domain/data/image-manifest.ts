/**
 * An image-folder dataset described by JSONL manifests, one
 * {"uri": "...", "label": N} per line: `train.jsonl` and (optionally)
 * `test.jsonl` in one folder, with an optional `dataset.json` giving the
 * sample size and class names. Relative URIs resolve against the folder;
 * `file://` URIs and absolute paths are accepted. Images are decoded per read
 * (PNG or JPEG) and fitted to the configured shape (see image-decode.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Dataset } from './dataset';
import type { DataConfinement } from './data-roots';
import { imageListDataset, type ImageList } from './image-list';
import { fileError, invalidData } from './invalid-data';

const lineSchema = z.object({
  uri: z.string().min(1),
  label: z.number().int().min(0),
});

const datasetFileSchema = z.strictObject({
  height: z.number().int().positive().max(4096).optional(),
  width: z.number().int().positive().max(4096).optional(),
  channels: z.union([z.literal(1), z.literal(3)]).optional(),
  classNames: z.array(z.string()).min(1).optional(),
  numClasses: z.number().int().positive().optional(),
});

export type ManifestDatasetFile = z.infer<typeof datasetFileSchema>;

export interface ManifestOptions {
  height?: number;
  width?: number;
  channels?: 1 | 3;
  /** Also hash every image file into the fingerprint (reads the whole set once). Default: manifests only. */
  hashImages?: boolean;
  hint?: string;
  /** Set when the folder came from a search config: manifests and every image must lie inside the allowed data roots. */
  confine?: DataConfinement;
}

export const DEFAULT_IMAGE_SIDE = 224;
const MAX_LISTED_PROBLEMS = 5;

interface ManifestEntry {
  file: string;
  label: number;
  line: number;
}

interface ParsedManifest {
  file: string;
  bytes: Buffer;
  entries: ManifestEntry[];
}

/** Parses JSONL text; every bad line is reported with its number (up to a few, then a count). */
export function parseManifestText(text: string, manifestFile: string): ManifestEntry[] {
  const dir = path.dirname(manifestFile);
  const entries: ManifestEntry[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '') return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      problems.push(`line ${line}: not valid JSON (${(err as Error).message})`);
      return;
    }
    const parsed = lineSchema.safeParse(value);
    if (!parsed.success) {
      const why = parsed.error.issues
        .map((issue) => `${issue.path.join('.') || '(line)'}: ${issue.message}`)
        .join(', ');
      problems.push(`line ${line}: ${why}`);
      return;
    }
    const file = resolveImageUri(parsed.data.uri, dir);
    if (file === undefined) {
      problems.push(`line ${line}: uri ${parsed.data.uri}: only local paths and file:// URIs are supported`);
      return;
    }
    entries.push({ file, label: parsed.data.label, line });
  });
  if (problems.length > 0) {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS).join('; ');
    const more =
      problems.length > MAX_LISTED_PROBLEMS ? `; and ${problems.length - MAX_LISTED_PROBLEMS} more bad lines` : '';
    throw invalidData(
      `${manifestFile}: ${problems.length} bad line${problems.length > 1 ? 's' : ''}: ${listed}${more}; ` +
        'each line must be a JSON object {"uri": "<image path>", "label": <integer >= 0>}',
    );
  }
  return entries;
}

function resolveImageUri(uri: string, dir: string): string | undefined {
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return undefined;
  return path.resolve(dir, uri);
}

async function readManifest(
  file: string,
  hint: string,
  optional: boolean,
  confine?: DataConfinement,
): Promise<ParsedManifest | undefined> {
  await confine?.check(file, 'dataset manifest');
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(file, err, hint);
  }
  return { file, bytes, entries: parseManifestText(bytes.toString('utf8'), file) };
}

async function readDatasetFile(dir: string, confine?: DataConfinement): Promise<ManifestDatasetFile> {
  const file = path.join(dir, 'dataset.json');
  await confine?.check(file, 'dataset file');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalidData(`${file}: not valid JSON (${(err as Error).message}); fix it or remove it`);
  }
  const parsed = datasetFileSchema.safeParse(value);
  if (!parsed.success) {
    const why = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`).join('; ');
    throw invalidData(`${file}: ${why}; allowed fields: height, width, channels (1 or 3), classNames, numClasses`);
  }
  return parsed.data;
}

export async function openImageManifestDataset(dir: string, options: ManifestOptions = {}): Promise<Dataset> {
  const hint =
    options.hint ?? `the folder must hold train.jsonl (and test.jsonl) with one {"uri","label"} object per line`;
  const meta = await readDatasetFile(dir, options.confine);
  const height = options.height ?? meta.height ?? DEFAULT_IMAGE_SIDE;
  const width = options.width ?? meta.width ?? DEFAULT_IMAGE_SIDE;
  const channels = options.channels ?? meta.channels ?? 3;
  const train = (await readManifest(path.join(dir, 'train.jsonl'), hint, false, options.confine))!;
  const test = (await readManifest(path.join(dir, 'test.jsonl'), hint, true, options.confine)) ?? {
    file: path.join(dir, 'test.jsonl'),
    bytes: Buffer.alloc(0),
    entries: [],
  };

  const declared = meta.numClasses ?? meta.classNames?.length;
  if (meta.numClasses !== undefined && meta.classNames !== undefined && meta.numClasses !== meta.classNames.length) {
    throw invalidData(
      `${path.join(dir, 'dataset.json')}: numClasses ${meta.numClasses} but ${meta.classNames.length} classNames; make them agree`,
    );
  }
  let maxLabel = -1;
  for (const manifest of [train, test]) {
    for (const entry of manifest.entries) {
      if (declared !== undefined && entry.label >= declared) {
        throw invalidData(
          `${manifest.file}: line ${entry.line}: label ${entry.label} is out of range 0-${declared - 1} ` +
            `(dataset.json declares ${declared} classes); fix the label or the class list`,
        );
      }
      maxLabel = Math.max(maxLabel, entry.label);
    }
  }
  if (train.entries.length === 0) throw invalidData(`${train.file}: no samples; ${hint}`);
  if (options.confine) {
    for (const manifest of [train, test]) {
      const outside = manifest.entries.find((e) => !options.confine!.lexicallyInside(e.file));
      if (outside) await options.confine.check(outside.file, `${manifest.file}: line ${outside.line}: image`);
    }
  }
  const numClasses = declared ?? maxLabel + 1;
  const list = (manifest: ParsedManifest): ImageList => ({
    listing: manifest.bytes,
    entries: manifest.entries.map((e) => ({
      file: e.file,
      label: e.label,
      where: `${manifest.file}: line ${e.line}: image`,
    })),
  });
  return imageListDataset({
    format: 'image-manifest',
    name: `image-manifest (${dir})`,
    shape: [height, width, channels],
    numClasses,
    classNames: meta.classNames,
    train: list(train),
    test: list(test),
    removeHint: 'remove the line',
    hashImages: options.hashImages,
    confine: options.confine,
  });
}
