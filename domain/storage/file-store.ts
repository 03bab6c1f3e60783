/**
 * file:// artifact store under one root directory. Objects are written
 * atomically (temp file, fsync, rename); each has a sidecar "<name>.sha256" in
 * sha256sum format (so `sha256sum -c` works on it too). Nothing outside the
 * root is ever read or written: keys are checked, and symbolic links that lead
 * out of the root are refused.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { commitTempFile, tempFilePattern, writeFileAtomic, writeTempFile } from './atomic-file';
import { chunksOf, HashingCounter, readAll, verifyingStream } from './digest';
import { assertKey, keyOfRef, keyProblem, prefixOfRef, sidecarSuffix } from './keys';
import type { ArtifactStore, GetOptions, ListedObject, PutBody, PutOptions, StoredObject } from './store';
import { ArtifactConflict, MissingArtifact, storageIoError, unrecordedArtifact } from './store-errors';

interface FoundFile {
  key: string;
  path: string;
  kind: 'object' | 'sidecar' | 'temp';
}

export class FileStore implements ArtifactStore {
  readonly root: string;
  private readonly rootDir: string;

  constructor(root: string) {
    if (!root.startsWith('file://')) throw new Error(`FileStore needs a file:// root, got ${root}`);
    this.root = root.replace(/\/+$/, '');
    this.rootDir = fileURLToPath(this.root);
  }

  uriOf(key: string): string {
    return `${this.root}/${assertKey(key, this.root)}`;
  }

  keyOf(ref: string): string {
    return keyOfRef(ref, this.root);
  }

  async put(ref: string, body: PutBody, options: PutOptions = {}): Promise<StoredObject> {
    const key = this.keyOf(ref);
    const uri = this.uriOf(key);
    try {
      return await this.write(key, uri, body, options);
    } catch (err) {
      throw storageIoError('write', uri, this.root, err);
    }
  }

  private async write(key: string, uri: string, body: PutBody, options: PutOptions): Promise<StoredObject> {
    const target = this.pathOf(key);
    await this.confine(target, uri);
    const written = await writeTempFile(target, chunksOf(body));
    try {
      // mkdir may have walked through directories created meanwhile; check again before committing.
      await this.confine(target, uri);
    } catch (err) {
      await fs.rm(written.path, { force: true });
      throw err;
    }
    const created = await commitTempFile(written.path, target, options.createOnly, true);
    if (!created) {
      try {
        const existing = await digestFile(target);
        if (existing !== written.sha256) {
          // A damaged copy of this very artifact (its own record names exactly the bytes now written) is
          // repaired, so that rerunning the producer heals it; anything else is a real conflict.
          if ((await recordedDigest(target)) !== written.sha256)
            throw new ArtifactConflict(uri, existing, written.sha256);
          await commitTempFile(written.path, target);
        }
      } finally {
        await fs.rm(written.path, { force: true });
      }
    }
    await writeFileAtomic(target + sidecarSuffix, Buffer.from(`${written.sha256}  ${path.basename(target)}\n`));
    return { uri, key, bytes: written.bytes, sha256: written.sha256 };
  }

  async get(ref: string, options: GetOptions = {}): Promise<Buffer> {
    return readAll(await this.getStream(ref, options));
  }

  async getStream(ref: string, options: GetOptions = {}): Promise<Readable> {
    const { uri, target, sha256 } = await this.recorded(ref);
    const expected = [{ sha256, source: `recorded in ${path.basename(target)}${sidecarSuffix}` }];
    if (options.sha256 !== undefined) expected.push({ sha256: options.sha256, source: 'expected by the caller' });
    // pipeline forwards errors both ways and returns the verifier; its callback has nothing left to do.
    return pipeline(createReadStream(target), verifyingStream(uri, expected), () => undefined);
  }

  async stat(ref: string): Promise<StoredObject> {
    const { uri, key, sha256, bytes } = await this.recorded(ref);
    return { uri, key, sha256, bytes };
  }

  async exists(ref: string): Promise<boolean> {
    const key = this.keyOf(ref);
    const target = this.pathOf(key);
    await this.confine(target, this.uriOf(key));
    return (await statOrUndefined(target))?.isFile() ?? false;
  }

  async list(prefix = ''): Promise<ListedObject[]> {
    const found = await this.find(prefixOfRef(prefix, this.root));
    const objects = await Promise.all(
      found
        .filter((f) => f.kind === 'object')
        .map(async (f) => ({ uri: `${this.root}/${f.key}`, key: f.key, bytes: (await fs.stat(f.path)).size })),
    );
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const p = prefixOfRef(prefix, this.root);
    if (p === '') throw new Error(`refusing to delete every artifact under ${this.root}: give a non-empty prefix`);
    const found = await this.find(p);
    const dirs = new Set<string>();
    for (const f of found) {
      await fs.rm(f.path, { force: true });
      for (let dir = path.dirname(f.path); dir.startsWith(this.rootDir + path.sep); dir = path.dirname(dir))
        dirs.add(dir);
    }
    // Remove the folders the deletion emptied, deepest first; non-empty ones stay.
    for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
      await fs.rmdir(dir).catch(() => undefined);
    }
    return found.filter((f) => f.kind === 'object').length;
  }

  private pathOf(key: string): string {
    return path.join(this.rootDir, ...key.split('/'));
  }

  /** Reads an object's size and recorded digest, or fails with MissingArtifact / CorruptArtifact. */
  private async recorded(ref: string): Promise<StoredObject & { target: string }> {
    const key = this.keyOf(ref);
    const uri = this.uriOf(key);
    const target = this.pathOf(key);
    await this.confine(target, uri);
    const info = await statOrUndefined(target);
    if (!info?.isFile()) throw new MissingArtifact(uri);
    const sidecar = target + sidecarSuffix;
    let text: string;
    try {
      text = await fs.readFile(sidecar, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw unrecordedArtifact(uri, `checksum file ${sidecar}`);
      throw err;
    }
    const match = /^([0-9a-f]{64})\s/.exec(text);
    if (!match) throw unrecordedArtifact(uri, `a sha256 line in ${sidecar}`);
    return { uri, key, target, bytes: info.size, sha256: match[1] };
  }

  /**
   * Refuses a path whose nearest existing ancestor (or itself) resolves, through
   * symbolic links, to somewhere outside the root.
   */
  private async confine(target: string, uri: string): Promise<void> {
    const rootReal = await realpathOrUndefined(this.rootDir);
    if (rootReal === undefined) return; // nothing under the root exists yet, so nothing can lead out of it
    for (let p = target; ; p = path.dirname(p)) {
      const real = await realpathOrUndefined(p);
      if (real === undefined) {
        if (p === this.rootDir || path.dirname(p) === p) return;
        continue;
      }
      const rel = path.relative(rootReal, real);
      if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
        throw new TypedTaskError(
          FailureType.ForbiddenPath,
          `artifact ${uri} resolves to ${real} (through a symbolic link at or above ${p}), outside the store root ${rootReal}; remove the link or use a different root`,
        );
      }
      return;
    }
  }

  /** Every file below the root whose key starts with `prefix`: objects, sidecars and leftover temp files. */
  private async find(prefix: string): Promise<FoundFile[]> {
    const dirKey = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = dirKey === '' ? this.rootDir : this.pathOf(dirKey);
    await this.confine(start, dirKey === '' ? this.root : `${this.root}/${dirKey}`);
    const out: FoundFile[] = [];
    const walk = async (dir: string, base: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
          return;
        throw err;
      }
      for (const entry of entries) {
        const key = base === '' ? entry.name : `${base}/${entry.name}`;
        const full = path.join(dir, entry.name);
        // Links are never followed, so a listing or a deletion cannot reach outside the root.
        if (entry.isDirectory()) {
          if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(full, key);
          continue;
        }
        if (!entry.isFile()) continue;
        const kind = tempFilePattern.test(key) ? 'temp' : key.endsWith(sidecarSuffix) ? 'sidecar' : 'object';
        const objectKey =
          kind === 'temp'
            ? key.replace(tempFilePattern, '')
            : kind === 'sidecar'
              ? key.slice(0, -sidecarSuffix.length)
              : key;
        if (!objectKey.startsWith(prefix)) continue;
        if (kind === 'object' && keyProblem(key) !== undefined) continue; // not an artifact (foreign or hidden file)
        out.push({ key: objectKey, path: full, kind });
      }
    };
    await walk(start, dirKey);
    return out;
  }
}

/** The sha256 recorded beside an object, or undefined when there is none. */
async function recordedDigest(file: string): Promise<string | undefined> {
  try {
    return /^([0-9a-f]{64})\s/.exec(await fs.readFile(file + sidecarSuffix, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

async function digestFile(file: string): Promise<string> {
  const counter = new HashingCounter();
  for await (const chunk of createReadStream(file)) counter.update(chunk as Buffer);
  return counter.digest();
}

async function statOrUndefined(p: string) {
  try {
    return await fs.stat(p);
  } catch (err) {
    if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}

async function realpathOrUndefined(p: string): Promise<string | undefined> {
  try {
    return await fs.realpath(p);
  } catch (err) {
    if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
}
