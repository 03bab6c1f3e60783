/**
 * Activity (winnow-orchestrator): write the search's manifest, the first
 * artifact of every search, at a deterministic path so a retry rewrites the
 * same object.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { SearchConfig } from '../workflows/config';
import type { ComputeProbe } from './compute/probe';
import { writeFileAtomic } from './storage/atomic-file';
import { defaultStorageRoot, resolveStorageRoot } from './storage/roots';
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

export async function writeSearchManifest(input: WriteSearchManifestInput): Promise<ArtifactRef> {
  return withTypedFailures(async () => {
    const root = resolveStorageRoot(input.config.storageRoot, defaultStorageRoot());
    const target = path.join(fileURLToPath(root), input.searchId, 'search.json');
    const body = { version: 1, searchId: input.searchId, workflowId: input.workflowId, config: input.config, compute: input.compute };
    const written = await writeFileAtomic(target, Buffer.from(JSON.stringify(body, null, 2) + '\n'));
    return { uri: `${root}/${input.searchId}/search.json`, bytes: written.bytes, sha256: written.sha256 };
  });
}
