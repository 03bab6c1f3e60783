/**
 * Workflow bundles of other code versions, built from today's workflows/ with
 * @temporalio/workflow swapped for a shim: `before-patches` (the previous
 * release: every patch takes its old branch) and `unversioned` (the changes
 * made without patched()).
 */
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { workflowsPath } from '../../../workers/create-workers';

export type WorkflowVersion = 'before-patches' | 'unversioned';

const bundles = new Map<WorkflowVersion, Promise<WorkflowBundleWithSourceMap>>();

export function versionedBundle(version: WorkflowVersion): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(version);
  if (!bundle) {
    const shim = path.join(__dirname, `${version}.js`);
    bundle = bundleWorkflowCode({
      workflowsPath,
      logger: {
        log: () => undefined,
        trace: () => undefined,
        debug: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: (m: string) => console.error(m),
      },
      webpackConfigHook: (config) => {
        const alias = (config.resolve?.alias ?? {}) as Record<string, string>;
        // Exact-match alias: the shim's own import of @temporalio/workflow/lib/index is left alone.
        config.resolve = { ...config.resolve, alias: { ...alias, '@temporalio/workflow$': shim } };
        return config;
      },
    });
    bundles.set(version, bundle);
  }
  return bundle;
}
