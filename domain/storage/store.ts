/**
 * The one artifact store every activity uses. Implementations: file:// (the
 * embedded default, under a configured root) and gs:// (Google Cloud Storage).
 * Every object carries the sha256 recorded when it was written; reads verify
 * it and fail with CorruptArtifact on a mismatch. The interface only: openStore
 * (open-store.ts) picks the implementation.
 */
import type { Readable } from 'node:stream';

export {
  ArtifactConflict,
  MissingArtifact,
  corruptArtifact,
  isMissingArtifact,
  unrecordedArtifact,
} from './store-errors';

/** What put accepts: bytes, or any stream / async iterable of bytes (never held in memory whole). */
export type PutBody = Uint8Array | Readable | AsyncIterable<Uint8Array>;

export interface PutOptions {
  /**
   * Immutable artifact: refuse to replace a different existing object
   * (ArtifactConflict); an identical one is accepted, so retries are idempotent.
   */
  createOnly?: boolean;
  contentType?: string;
}

export interface GetOptions {
  /** Digest the caller expects (e.g. from the ArtifactRef that named the object); checked as well as the recorded one. */
  sha256?: string;
}

/** A stored object: what travels through Temporal as a reference. */
export interface StoredObject {
  uri: string;
  key: string;
  bytes: number;
  sha256: string;
}

export interface ListedObject {
  uri: string;
  key: string;
  bytes: number;
}

export interface ArtifactStore {
  /** The root URI, without a trailing slash. */
  readonly root: string;
  /** URI of a key (checked). */
  uriOf(key: string): string;
  /** Key of a URI inside the root, or a bare key, checked; ForbiddenPath otherwise. */
  keyOf(ref: string): string;
  put(ref: string, body: PutBody, options?: PutOptions): Promise<StoredObject>;
  /** The whole object, verified before it is returned. */
  get(ref: string, options?: GetOptions): Promise<Buffer>;
  /**
   * A stream of the object. It is verified as it flows: on a mismatch the
   * stream errors at its end with CorruptArtifact, so consumers must treat the
   * data as valid only once the stream has ended without error.
   */
  getStream(ref: string, options?: GetOptions): Promise<Readable>;
  /** Recorded size and digest without reading the object; MissingArtifact when absent. */
  stat(ref: string): Promise<StoredObject>;
  exists(ref: string): Promise<boolean>;
  /** Objects whose key starts with `prefix` (a key prefix or a URI inside the root), sorted by key. */
  list(prefix?: string): Promise<ListedObject[]>;
  /** Deletes every object whose key starts with `prefix` (which must not be empty); returns how many. */
  deletePrefix(prefix: string): Promise<number>;
}
