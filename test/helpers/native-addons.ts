/**
 * Whether the optional native addons are built, for test suites that need
 * them. Where they are optional a suite skips with the reason; with
 * WINNOW_REQUIRE_NATIVE=1 (set by .ci/run, which builds both) a missing
 * addon fails the test file instead, so CI never passes on skipped suites.
 */
import fs from 'node:fs';
import path from 'node:path';
import { winnowTfOpsPath } from '../../kernels/tfjs-node/tfjs-node-native-ops';

function tfjsNodeAddonBuilt(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- node-pre-gyp has no types; loaded only to locate the addon
    const { find } = require('@mapbox/node-pre-gyp') as { find: (p: string) => string };
    return fs.existsSync(find(path.resolve(require.resolve('@tensorflow/tfjs-node/package.json'))));
  } catch {
    return false;
  }
}

function skipOrFail(reason: string | false): string | false {
  if (reason && process.env.WINNOW_REQUIRE_NATIVE === '1') {
    throw new Error(`${reason}, and WINNOW_REQUIRE_NATIVE=1 requires it: run npm run tools`);
  }
  return reason;
}

/** Skip reason for a suite that needs tfjs-node (false: run it). */
export function skipWithoutTfjsNode(): string | false {
  return skipOrFail(tfjsNodeAddonBuilt() ? false : 'tfjs-node addon not built (infra/install-tfjs-node.sh)');
}

/** Skip reason for a suite that needs tfjs-node and winnow's TensorFlow ops (false: run it). */
export function skipWithoutWinnowTfOps(): string | false {
  const file = winnowTfOpsPath();
  if (!tfjsNodeAddonBuilt()) return skipOrFail('tfjs-node addon not built (infra/install-tfjs-node.sh)');
  return skipOrFail(
    file && fs.existsSync(file)
      ? false
      : `winnow TensorFlow ops not built (${file ?? 'WINNOW_TF_OPS=off, or no repository root'}; infra/build-tf-ops.sh)`,
  );
}
