// winnow's layer rules (docs/architecture.md, "Layers"): each top-level folder is a layer and imports only go
// down. `npm run lint:deps` checks every import of the TypeScript sources; a violation fails `npm run lint` and CI.
/** Folders (as path regexes) that a layer may not import. */
const below = (layer, forbidden, comment) => ({
  name: `${layer}-imports-only-below`,
  comment,
  severity: 'error',
  from: { path: `^${layer}/` },
  to: { path: `^(${forbidden.join('|')})/` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make load order matter and layers blur; break them with an interface or a new module.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'workflows-import-activities-as-types-only',
      comment:
        'Workflow code runs in the sandbox: activities are named by type (proxyActivities<T>), never imported as values.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: '^activities/', dependencyTypesNot: ['type-only'] },
    },
    below(
      'workflows',
      ['client', 'workers', 'compute', 'domain', 'kernels', 'infra', 'bench', 'test'],
      'Workflows import @temporalio/workflow, contracts/ and types of activities/ only.',
    ),
    {
      name: 'workflows-no-node-modules',
      comment: 'The workflow sandbox is deterministic: no Node built-ins and no packages but the SDK and zod.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { dependencyTypes: ['core'] },
    },
    below(
      'activities',
      ['client', 'workers', 'workflows', 'infra', 'bench', 'test'],
      'Activities are the Temporal surface over compute/ and domain/; they never import workflow code.',
    ),
    below(
      'compute',
      ['client', 'workers', 'workflows', 'activities', 'infra', 'bench', 'test'],
      'The compute child knows nothing of Temporal or of the layers above it.',
    ),
    below(
      'domain',
      ['client', 'workers', 'workflows', 'activities', 'compute', 'infra', 'bench', 'test'],
      'The domain library is SDK-free and below compute/.',
    ),
    {
      name: 'kernels-imports-only-below',
      comment: 'Kernels import other kernels, contracts/ and the leaf infra/tools.ts (which locates built addons).',
      severity: 'error',
      from: { path: '^kernels/' },
      to: {
        path: '^(client|workers|workflows|activities|compute|domain|bench|test|infra)/',
        pathNot: '^infra/tools\\.ts$',
      },
    },
    below(
      'contracts',
      ['client', 'workers', 'workflows', 'activities', 'compute', 'domain', 'kernels', 'infra', 'bench', 'test'],
      'Contracts are the bottom layer: shared by all, importing none.',
    ),
    {
      name: 'contracts-pure',
      comment:
        'Contracts are pure definitions (zod schemas, names, arithmetic): no Node built-ins, no packages but zod.',
      severity: 'error',
      from: { path: '^contracts/' },
      to: { dependencyTypes: ['core', 'npm'], pathNot: 'node_modules/zod/' },
    },
    below(
      'infra',
      ['client', 'workers', 'workflows', 'activities', 'compute', 'domain', 'kernels', 'bench', 'test'],
      'Infra (tools, dev server, environment) is used by the layers above, and uses contracts/ only.',
    ),
    below(
      'workers',
      ['client', 'bench', 'test'],
      'Workers are entry points; only the client (demo) and tests start them.',
    ),
    {
      name: 'no-temporal-below-activities',
      comment:
        'compute/, domain/, kernels/ and contracts/ run in child processes, benches and unit tests: no Temporal SDK.',
      severity: 'error',
      from: { path: '^(compute|domain|kernels|contracts)/' },
      to: { path: 'node_modules/@temporalio/' },
    },
    {
      name: 'no-production-import-of-tests',
      comment: 'Nothing outside test/ and bench/ imports test or bench code.',
      severity: 'error',
      from: { pathNot: '^(test|bench)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|\\.tools|state)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
