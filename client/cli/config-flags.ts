/**
 * Builds a search config from a JSON file's object and command-line flags.
 * Pure: the CLI reads the file, this merges. Flags win over the file.
 */
export interface ConfigFlags {
  dataset?: string;
  datasetUri?: string;
  targets?: string;
  function?: string;
  step?: string;
  members?: string;
  epochs?: string;
  scheme?: string;
  seed?: string;
  searchId?: string;
  /** `path=value` pairs; value is JSON when it parses, else a string (e.g. training.optimizer=adam). */
  set?: string[];
}

export class ConfigFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigFlagError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function integer(flag: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new ConfigFlagError(`--${flag} ${raw}: expected an integer`);
  return n;
}

function setPath(target: { [key: string]: Json }, path: string, value: Json, flag: string): void {
  const keys = path.split('.');
  if (keys.some((k) => k === '' || k === '__proto__' || k === 'constructor' || k === 'prototype')) {
    throw new ConfigFlagError(`${flag}: "${path}" is not a config path like training.epochs`);
  }
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new ConfigFlagError(`${flag}: "${key}" in ${path} is not an object in the config`);
    }
    node = node[key] as { [key: string]: Json };
  }
  node[keys[keys.length - 1]] = value;
}

function parseValue(raw: string): Json {
  try {
    return JSON.parse(raw) as Json;
  } catch {
    return raw;
  }
}

/** The config object to validate: the file's (if any) with the flags applied. */
export function buildConfig(fromFile: unknown, flags: ConfigFlags): { [key: string]: Json } {
  if (fromFile !== undefined && (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile))) {
    throw new ConfigFlagError('the config file must hold one JSON object');
  }
  const config = structuredClone((fromFile ?? {}) as { [key: string]: Json });
  if (flags.dataset !== undefined) setPath(config, 'dataset.kind', flags.dataset, '--dataset');
  if (flags.datasetUri !== undefined) setPath(config, 'dataset.uri', flags.datasetUri, '--dataset-uri');
  if (flags.targets !== undefined) {
    setPath(
      config,
      'targets',
      flags.targets.split(',').map((t) => integer('targets', t.trim())),
      '--targets',
    );
  }
  if (flags.function !== undefined) setPath(config, 'acquisition.function', flags.function, '--function');
  if (flags.step !== undefined) setPath(config, 'acquisition.step', integer('step', flags.step), '--step');
  if (flags.members !== undefined) setPath(config, 'ensemble.members', integer('members', flags.members), '--members');
  if (flags.epochs !== undefined) setPath(config, 'training.epochs', integer('epochs', flags.epochs), '--epochs');
  if (flags.scheme !== undefined) setPath(config, 'scheme', flags.scheme, '--scheme');
  if (flags.seed !== undefined) setPath(config, 'seed', integer('seed', flags.seed), '--seed');
  if (flags.searchId !== undefined) setPath(config, 'searchId', flags.searchId, '--search-id');
  for (const pair of flags.set ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigFlagError(`--set ${pair}: expected path=value, e.g. --set training.epochs=5`);
    setPath(config, pair.slice(0, eq), parseValue(pair.slice(eq + 1)), `--set ${pair}`);
  }
  return config;
}
