/**
 * `winnow store`: list a store's artifacts and clean up searches.
 *
 *   node dist/client/store-command.js list <uri-or-key-prefix> [--root URI]
 *   node dist/client/store-command.js clean <searchId-prefix> [--yes] [--root URI]
 *
 * The store root is --root, else the bucket of a gs:// argument, else the
 * worker default (WINNOW_STORAGE_ROOT, or ./state/artifacts). `clean` only
 * reports what it would delete unless --yes is given.
 */
import { parseArgs } from 'node:util';
import { defaultStorageRoot, normaliseRoot } from '../domain/storage/roots';
import { isUri } from '../domain/storage/keys';
import { type ListedObject } from '../domain/storage/store';
import { openStore, type OpenStoreOptions } from '../domain/storage/open-store';

export interface StoreCommandOptions extends OpenStoreOptions {
  /** Store root URI (or path); see storeRootFor. */
  root?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ListResult {
  root: string;
  objects: ListedObject[];
  bytes: number;
}

export interface CleanResult {
  root: string;
  searchIds: string[];
  objects: number;
  bytes: number;
  deleted: boolean;
}

const searchIdPrefixPattern = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** The root a command works under: the explicit one, the bucket a gs:// argument names, or the worker default. */
export function storeRootFor(arg: string, options: StoreCommandOptions = {}): string {
  if (options.root !== undefined) return normaliseRoot(options.root);
  const bucket = /^gs:\/\/([^/]+)/.exec(arg);
  if (bucket) return `gs://${bucket[1]}`;
  return defaultStorageRoot(options.env);
}

export async function listArtifacts(prefix: string, options: StoreCommandOptions = {}): Promise<ListResult> {
  const store = openStore(storeRootFor(prefix, options), options);
  const objects = await store.list(prefix);
  return { root: store.root, objects, bytes: objects.reduce((sum, o) => sum + o.bytes, 0) };
}

/** Deletes (with `confirm`) or only counts the artifacts of every search whose id starts with `searchIdPrefix`. */
export async function cleanSearches(
  searchIdPrefix: string,
  confirm: boolean,
  options: StoreCommandOptions = {},
): Promise<CleanResult> {
  if (!searchIdPrefixPattern.test(searchIdPrefix)) {
    throw new Error(
      `clean ${JSON.stringify(searchIdPrefix)}: give the start of a search id (lower-case letters, digits, ".", "_", "-"), not a path or URI`,
    );
  }
  const store = openStore(storeRootFor(searchIdPrefix, options), options);
  const objects = await store.list(searchIdPrefix);
  const searchIds = [...new Set(objects.map((o) => o.key.split('/')[0]))];
  const bytes = objects.reduce((sum, o) => sum + o.bytes, 0);
  if (confirm && objects.length > 0) await store.deletePrefix(searchIdPrefix);
  return { root: store.root, searchIds, objects: objects.length, bytes, deleted: confirm };
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const usage = `usage:
  winnow store list <uri-or-key-prefix> [--root URI]
  winnow store clean <searchId-prefix> [--yes] [--root URI]`;

/** Runs the command line; returns the exit code (0 done, 1 failed, 2 usage). */
export async function runStoreCommand(argv: string[], print: (line: string) => void = console.log): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        root: { type: 'string' },
        yes: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    print(`${(err as Error).message}\n${usage}`);
    return 2;
  }
  const [command, arg, ...extra] = parsed.positionals;
  if (parsed.values.help) {
    print(usage);
    return 0;
  }
  if (!command || arg === undefined || extra.length > 0 || !['list', 'clean'].includes(command)) {
    print(usage);
    return 2;
  }
  const options: StoreCommandOptions = { root: parsed.values.root };
  try {
    if (command === 'list') {
      const result = await listArtifacts(arg, options);
      for (const o of result.objects) print(`${String(o.bytes).padStart(12)}  ${o.uri}`);
      print(
        `${result.objects.length} objects, ${formatBytes(result.bytes)} under ${isUri(arg) ? arg : `${result.root}/${arg}`}`,
      );
      return 0;
    }
    const result = await cleanSearches(arg, parsed.values.yes ?? false, options);
    const what = `${result.objects} objects (${formatBytes(result.bytes)}) of ${result.searchIds.length} searches under ${result.root}`;
    if (result.searchIds.length > 0) print(`searches: ${result.searchIds.join(', ')}`);
    print(result.deleted ? `deleted ${what}` : `would delete ${what}; rerun with --yes to delete them`);
    return 0;
  } catch (err) {
    print(`winnow store ${command}: ${(err as Error).message}`);
    if (isUri(arg) && parsed.values.root === undefined && /outside the store root/.test((err as Error).message)) {
      print('(pass --root with the store root that contains it)');
    }
    return 1;
  }
}

if (require.main === module) {
  runStoreCommand(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
