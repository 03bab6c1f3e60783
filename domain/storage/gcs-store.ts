/**
 * gs:// artifact store on @google-cloud/storage. The sha256 lives in the
 * object's custom metadata ("sha256"). Small objects (up to
 * `singleRequestMaxBytes`) go up in one request together with their digest, so
 * they appear complete or not at all; larger ones stream through a resumable
 * upload and get their digest recorded right after (an object without
 * it reads as CorruptArtifact, so an interrupted write is never trusted).
 * Credentials: the standard Google chain (GOOGLE_APPLICATION_CREDENTIALS, ADC);
 * none are used against a custom endpoint such as fake-gcs-server.
 */
import { pipeline as pipelineCallback, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Readable as ReadableStream } from 'node:stream';
import { IdempotencyStrategy, Storage, type Bucket, type File } from '@google-cloud/storage';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { chunksOf, HashingCounter, readAll, sha256Hex, verifyingStream } from './digest';
import { assertKey, keyOfRef, keyProblem, parseGsRoot, prefixOfRef } from './keys';
import type { ArtifactStore, GetOptions, ListedObject, PutBody, PutOptions, StoredObject } from './store';
import { ArtifactConflict, MissingArtifact, unrecordedArtifact } from './store-errors';

export interface GcsStoreOptions {
  /** API endpoint, e.g. an emulator's http://127.0.0.1:4443. Default: STORAGE_EMULATOR_HOST when set, else Google. */
  apiEndpoint?: string;
  projectId?: string;
  /** Service-account key file; default: GOOGLE_APPLICATION_CREDENTIALS, then Application Default Credentials. */
  keyFilename?: string;
  /** Objects up to this size are uploaded in a single request with their digest. Default 8 MiB. */
  singleRequestMaxBytes?: number;
  /**
   * Resumable uploads send the whole stream in one request by default (the
   * client holds one buffer; an upload broken midway fails and the activity's
   * retry rewrites the object). A chunk size (a multiple of 256 KiB) sends
   * chunks that are retried one by one instead, at the cost of holding a chunk
   * and, measured, about 100 MiB more RSS.
   */
  chunkSize?: number;
  retry?: {
    /** Default 6. */
    maxRetries?: number;
    /** Give up retrying after this long. Default 600 s. */
    totalTimeoutSeconds?: number;
    /** Longest wait between two tries. Default 32 s. */
    maxDelaySeconds?: number;
    /** Growth of the wait between tries. Default 2. */
    delayMultiplier?: number;
  };
  /** A ready client (tests); overrides the connection options above. */
  storage?: Storage;
}

const MiB = 1024 * 1024;

/**
 * The endpoint to talk to: the option, else STORAGE_EMULATOR_HOST (host:port
 * or a URL, with or without /storage/v1), else undefined (Google).
 */
export function emulatorEndpoint(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = option ?? env.STORAGE_EMULATOR_HOST;
  if (raw === undefined || raw === '') return undefined;
  const withScheme = /^https?:\/\//.test(raw) ? raw : `http://${raw}`;
  return withScheme.replace(/\/+$/, '').replace(/\/storage\/v1$/, '');
}

export function createStorageClient(options: GcsStoreOptions = {}): Storage {
  const retry = options.retry ?? {};
  const endpoint = emulatorEndpoint(options.apiEndpoint);
  const storage = new Storage({
    apiEndpoint: endpoint,
    projectId: options.projectId,
    keyFilename: options.keyFilename,
    retryOptions: {
      autoRetry: true,
      maxRetries: retry.maxRetries ?? 6,
      totalTimeout: retry.totalTimeoutSeconds ?? 600,
      maxRetryDelay: retry.maxDelaySeconds ?? 32,
      retryDelayMultiplier: retry.delayMultiplier ?? 2,
      // Every write goes to a deterministic name and create-only conflicts are settled by digest, so repeating is safe.
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
    },
  });
  // The library takes STORAGE_EMULATOR_HOST verbatim as the JSON API base (no /storage/v1) but derives
  // upload URLs from it differently; pin both to the one endpoint.
  if (endpoint !== undefined) storage.baseUrl = `${endpoint}/storage/v1`;
  return storage;
}

export class GcsStore implements ArtifactStore {
  readonly root: string;
  readonly bucketName: string;
  private readonly prefix: string;
  private readonly bucket: Bucket;
  private readonly singleMax: number;
  private readonly chunkSize: number | undefined;

  constructor(root: string, options: GcsStoreOptions = {}) {
    this.root = root.replace(/\/+$/, '');
    const { bucket, prefix } = parseGsRoot(this.root);
    this.bucketName = bucket;
    this.prefix = prefix;
    this.bucket = (options.storage ?? createStorageClient(options)).bucket(bucket);
    this.singleMax = options.singleRequestMaxBytes ?? 8 * MiB;
    this.chunkSize = options.chunkSize;
    if (this.chunkSize !== undefined && (this.chunkSize <= 0 || this.chunkSize % (256 * 1024) !== 0))
      throw new Error(`chunkSize ${this.chunkSize} must be a multiple of 256 KiB`);
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
    const file = this.bucket.file(this.nameOf(key));
    try {
      // Read ahead up to the single-request limit: a stream that ends within it is stored like bytes.
      const source = chunksOf(body)[Symbol.asyncIterator]();
      const head: Buffer[] = [];
      let headBytes = 0;
      for (;;) {
        if (headBytes > this.singleMax) return await this.putLarge(file, uri, key, head, source, options);
        const next = await source.next();
        if (next.done) return await this.putSmall(file, uri, key, Buffer.concat(head), options);
        head.push(next.value);
        headBytes += next.value.byteLength;
      }
    } catch (err) {
      throw await this.explain(err, uri);
    }
  }

  async get(ref: string, options: GetOptions = {}): Promise<Buffer> {
    return readAll(await this.getStream(ref, options));
  }

  async getStream(ref: string, options: GetOptions = {}): Promise<Readable> {
    const { uri, name, sha256, generation } = await this.recorded(ref);
    const expected = [{ sha256, source: 'recorded in the object metadata' }];
    if (options.sha256 !== undefined) expected.push({ sha256: options.sha256, source: 'expected by the caller' });
    // Read exactly the generation whose digest was just read; our sha256 check supersedes the library's crc32c.
    const source = this.bucket.file(name, { generation }).createReadStream({ validation: false });
    return pipelineCallback(source, verifyingStream(uri, expected), () => undefined);
  }

  async stat(ref: string): Promise<StoredObject> {
    const { uri, key, sha256, bytes } = await this.recorded(ref);
    return { uri, key, sha256, bytes };
  }

  async exists(ref: string): Promise<boolean> {
    const key = this.keyOf(ref);
    try {
      const [exists] = await this.bucket.file(this.nameOf(key)).exists();
      return exists;
    } catch (err) {
      throw await this.explain(err, this.uriOf(key));
    }
  }

  async list(prefix = ''): Promise<ListedObject[]> {
    const p = prefixOfRef(prefix, this.root);
    const base = this.prefix === '' ? '' : `${this.prefix}/`;
    let files: File[];
    try {
      [files] = await this.bucket.getFiles({ prefix: base + p, autoPaginate: true });
    } catch (err) {
      throw await this.explain(err, p === '' ? this.root : `${this.root}/${p}`);
    }
    return files
      .map((f) => ({ key: f.name.slice(base.length), bytes: Number(f.metadata.size ?? 0) }))
      .filter((o) => keyProblem(o.key) === undefined)
      .map((o) => ({ uri: `${this.root}/${o.key}`, key: o.key, bytes: o.bytes }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const p = prefixOfRef(prefix, this.root);
    if (p === '') throw new Error(`refusing to delete every artifact under ${this.root}: give a non-empty prefix`);
    const objects = await this.list(p);
    let next = 0;
    const worker = async () => {
      while (next < objects.length) {
        const object = objects[next++];
        await this.bucket.file(this.nameOf(object.key)).delete({ ignoreNotFound: true });
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, objects.length) }, worker));
    return objects.length;
  }

  private nameOf(key: string): string {
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  private async putSmall(
    file: File,
    uri: string,
    key: string,
    data: Buffer,
    options: PutOptions,
  ): Promise<StoredObject> {
    const sha256 = sha256Hex(data);
    try {
      await file.save(data, {
        resumable: false,
        metadata: { contentType: options.contentType, metadata: { sha256 } },
        preconditionOpts: options.createOnly ? { ifGenerationMatch: 0 } : undefined,
      });
    } catch (err) {
      if (options.createOnly && statusOf(err) === 412)
        return this.settleExisting(file, uri, key, sha256, data.byteLength);
      throw err;
    }
    return { uri, key, bytes: data.byteLength, sha256 };
  }

  private async putLarge(
    file: File,
    uri: string,
    key: string,
    head: Buffer[],
    source: AsyncIterator<Buffer>,
    options: PutOptions,
  ): Promise<StoredObject> {
    const counter = new HashingCounter();
    let headIndex = 0;
    let ended = false;
    // Every chunk is hashed as it is taken, so a conflict found mid-upload can finish the digest by draining.
    const take = async (): Promise<Buffer | undefined> => {
      let chunk: Buffer | undefined;
      if (headIndex < head.length) chunk = head[headIndex++];
      else {
        const next = await source.next();
        chunk = next.done ? undefined : next.value;
      }
      if (chunk === undefined) ended = true;
      else counter.update(chunk);
      return chunk;
    };
    const drain = async () => {
      while ((await take()) !== undefined);
      return counter.digest();
    };

    if (options.createOnly && (await file.exists())[0]) {
      const sha256 = await drain();
      return this.settleExisting(file, uri, key, sha256, counter.bytes);
    }
    async function* chunks() {
      for (let chunk = await take(); chunk !== undefined; chunk = await take()) yield chunk;
    }
    try {
      await pipeline(
        ReadableStream.from(chunks(), { objectMode: false }),
        file.createWriteStream({
          resumable: true,
          chunkSize: this.chunkSize,
          metadata: { contentType: options.contentType },
          preconditionOpts: options.createOnly ? { ifGenerationMatch: 0 } : undefined,
        }),
      );
    } catch (err) {
      if (options.createOnly && statusOf(err) === 412) {
        const sha256 = ended ? counter.digest() : await drain();
        return this.settleExisting(file, uri, key, sha256, counter.bytes);
      }
      throw err;
    }
    const sha256 = counter.digest();
    const generation = file.metadata.generation;
    try {
      await file.setMetadata(
        { metadata: { sha256 } },
        generation === undefined ? {} : { ifGenerationMatch: generation },
      );
    } catch (err) {
      if (statusOf(err) === 412)
        throw new Error(
          `artifact ${uri} was replaced by another writer while its sha256 was being recorded; retry the write`,
          { cause: err },
        );
      throw err;
    }
    return { uri, key, bytes: counter.bytes, sha256 };
  }

  /** A create-only write found an object: fine when it has the same content, ArtifactConflict otherwise. */
  private async settleExisting(
    file: File,
    uri: string,
    key: string,
    sha256: string,
    bytes: number,
  ): Promise<StoredObject> {
    const [metadata] = await file.getMetadata();
    let existing = metadata.metadata?.sha256;
    if (typeof existing !== 'string') {
      // Left by an interrupted write: its content decides, and its record is completed when it matches.
      const counter = new HashingCounter();
      for await (const chunk of this.bucket
        .file(file.name, { generation: metadata.generation })
        .createReadStream({ validation: false })) {
        counter.update(chunk as Buffer);
      }
      existing = counter.digest();
      if (existing === sha256)
        await file.setMetadata({ metadata: { sha256 } }, { ifGenerationMatch: metadata.generation });
    }
    if (existing !== sha256) throw new ArtifactConflict(uri, String(existing), sha256);
    return { uri, key, bytes, sha256 };
  }

  private async recorded(ref: string): Promise<StoredObject & { name: string; generation?: string | number }> {
    const key = this.keyOf(ref);
    const uri = this.uriOf(key);
    const name = this.nameOf(key);
    let metadata;
    try {
      [metadata] = await this.bucket.file(name).getMetadata();
    } catch (err) {
      throw await this.explain(err, uri);
    }
    const sha256 = metadata.metadata?.sha256;
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
      throw unrecordedArtifact(uri, 'the "sha256" object metadata');
    return { uri, key, name, sha256, bytes: Number(metadata.size ?? 0), generation: metadata.generation };
  }

  /** Turns a library error into one that says what is missing or which object failed. */
  private async explain(err: unknown, uri: string): Promise<unknown> {
    if (err instanceof TypedTaskError || err instanceof MissingArtifact) return err;
    if (statusOf(err) === 404) {
      const [bucketExists] = await this.bucket.exists().catch(() => [true]);
      if (!bucketExists) {
        return new TypedTaskError(
          FailureType.InvalidConfig,
          `bucket ${this.bucketName} does not exist (store root ${this.root}); create it (gcloud storage buckets create gs://${this.bucketName}) or point storageRoot / WINNOW_STORAGE_ROOT at an existing bucket`,
        );
      }
      return new MissingArtifact(uri);
    }
    const status = statusOf(err);
    if ((status === 401 || status === 403) && !rateLimited(err)) {
      // Retrying with the same credentials cannot help; a transient retry loop would hide the cause for hours.
      return new TypedTaskError(
        FailureType.AccessDenied,
        `${uri}: access denied (HTTP ${status}: ${err instanceof Error ? err.message : String(err)}); ` +
          `give the workers' credentials (GOOGLE_APPLICATION_CREDENTIALS or their service account) read and write access to objects in gs://${this.bucketName}, then resume the search (winnow resume <id>)`,
      );
    }
    if (err instanceof Error) return new Error(`${uri}: ${err.message}`, { cause: err });
    return err;
  }
}

/** Older GCS endpoints report some rate limits as 403 with a reason; those stay retryable. */
function rateLimited(err: unknown): boolean {
  const errors = (err as { errors?: unknown } | null)?.errors;
  return (
    Array.isArray(errors) &&
    errors.some((e) => /rateLimit|quota/i.test(String((e as { reason?: unknown } | null)?.reason ?? '')))
  );
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; status?: unknown; response?: { status?: unknown } } | null;
  for (const candidate of [e?.code, e?.status, e?.response?.status]) {
    if (typeof candidate === 'number') return candidate;
  }
  return undefined;
}
