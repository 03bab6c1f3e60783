/** Locates the external tools that infra/install-tools.sh builds (or links) into .tools/bin. */
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The repository root: the nearest folder above this file with a package.json. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the winnow repository root above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

const overrides = {
  temporal: 'TEMPORAL_CLI',
  'fake-gcs-server': 'FAKE_GCS_SERVER',
  kustomize: 'KUSTOMIZE',
  hadolint: 'HADOLINT',
  /** A Python with pycocotools and numpy (a venv in the tools cache), for the COCO mAP comparison test. */
  'pycocotools-python': 'PYCOCOTOOLS_PYTHON',
} as const;
export type ToolName = keyof typeof overrides;

/** Path of a tool: its environment override, else .tools/bin/NAME. Fails with the command that installs it. */
export function toolPath(name: ToolName, env: NodeJS.ProcessEnv = process.env): string {
  const override = env[overrides[name]];
  const candidate = override ?? path.join(repoRoot(), '.tools', 'bin', name);
  if (!existsSync(candidate)) {
    throw new Error(
      `${name} not found at ${candidate}; run \`npm run tools\` (builds it into .tools/bin) or set ${overrides[name]} to an installed binary`,
    );
  }
  return candidate;
}
