/** Opens the artifact store for a root URI, choosing the implementation by scheme. */
import { FailureType, TypedTaskError } from '../../contracts/failures';
import { FileStore } from './file-store';
import { GcsStore, type GcsStoreOptions } from './gcs-store';
import { normaliseRoot } from './roots';
import type { ArtifactStore } from './store';
export interface OpenStoreOptions {
  /** Connection settings for gs:// roots. */
  gcs?: GcsStoreOptions;
}

/**
 * The store for a root URI, chosen by scheme: file:///abs/dir (a plain path
 * is taken as one) or gs://bucket[/prefix].
 */
export function openStore(root: string, options: OpenStoreOptions = {}): ArtifactStore {
  const uri = normaliseRoot(root);
  if (uri.startsWith('file://')) return new FileStore(uri);
  if (uri.startsWith('gs://')) return new GcsStore(uri, options.gcs);
  throw new TypedTaskError(
    FailureType.InvalidConfig,
    `storage root ${root}: unsupported scheme; use file:///absolute/path or gs://bucket[/prefix]`,
  );
}
