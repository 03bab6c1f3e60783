/**
 * Activity (winnow-orchestrator): write the search's manifest, the first
 * artifact of every search, at a deterministic path so a retry rewrites the
 * same object.
 */
import type { SearchConfig } from '../contracts/config';
import type { ComputeProbe } from '../compute/probe';
import { defaultStorageRoot, resolveStorageRoot } from '../domain/storage/roots';
import { openStore } from '../domain/storage/open-store';
import { withTypedFailures } from './to-application-failure';

export interface WriteSearchManifestInput {
  searchId: string;
  workflowId: string;
  config: SearchConfig;
  compute: ComputeProbe;
}

export interface ArtifactRef {
  uri: string;
  bytes: number;
  sha256: string;
}

export interface SearchManifestRef extends ArtifactRef {
  /** The search's resolved storage root, passed to every later activity. */
  storageRoot: string;
}

export async function writeSearchManifest(input: WriteSearchManifestInput): Promise<SearchManifestRef> {
  return withTypedFailures(async () => {
    const root = resolveStorageRoot(input.config.storageRoot, defaultStorageRoot());
    const body = {
      version: 1,
      searchId: input.searchId,
      workflowId: input.workflowId,
      config: input.config,
      compute: input.compute,
    };
    const stored = await openStore(root).put(
      `${input.searchId}/search.json`,
      Buffer.from(JSON.stringify(body, null, 2) + '\n'),
      {
        contentType: 'application/json',
      },
    );
    return { uri: stored.uri, bytes: stored.bytes, sha256: stored.sha256, storageRoot: root };
  });
}
