/**
 * Models from files: a model written by tfjs's model.save() and the Keras
 * fixture converted by tensorflowjs load with their own weights or with fresh
 * weights per seed; shapes are checked against the dataset; every bad file
 * gets an InvalidConfig (or ForbiddenPath) error naming it.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { parseSearchConfig } from '../../contracts/config';
import { FailureType, TypedTaskError } from '../../contracts/failures';
import {
  buildLayersModel,
  checkModelShapes,
  describeLayersModel,
  readLayersModel,
  reseedInitializers,
} from '../../domain/ml/layers-model-file';
import { readInputFile, siblingUri } from '../../domain/storage/input-files';
import { copyKerasFixture, saveLayersModel, smallCnn } from '../helpers/layers-model-files';

const read = (uri: string) => readInputFile(uri);
let dir: string;
let saved: string;
let savedWeights: Float32Array[];
let kerasCnnFixture: string;

before(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(path.join(os.tmpdir(), 'winnow-model-file-'));
  kerasCnnFixture = copyKerasFixture(path.join(dir, 'keras'));
  const model = smallCnn([12, 12, 1], 4);
  savedWeights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  saved = await saveLayersModel(model, path.join(dir, 'saved'));
  model.dispose();
});

after(() => rmSync(dir, { recursive: true, force: true }));

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

async function rejectsWith(run: () => Promise<unknown>, type: string, ...phrases: string[]): Promise<void> {
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof TypedTaskError, `expected a TypedTaskError, got ${String(err)}`);
    assert.equal(err.failureType, type);
    for (const phrase of phrases) assert.ok(err.message.includes(phrase), `"${err.message}" names ${phrase}`);
    return true;
  });
}

/** A copy of the saved model whose model.json is changed by `edit`. */
function editedCopy(name: string, edit: (json: Record<string, unknown>) => void): string {
  const target = path.join(dir, name);
  rmSync(target, { recursive: true, force: true });
  const copy = path.join(target, 'model.json');
  mkdirSync(target, { recursive: true });
  copyFileSync(path.join(path.dirname(saved), 'weights.bin'), path.join(target, 'weights.bin'));
  const json = JSON.parse(readFileSync(saved, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(copy, JSON.stringify(json));
  return copy;
}

describe('models from files', () => {
  it('init "weights" gives the saved weights exactly; the fingerprint covers model.json and weights', async () => {
    const artifacts = await readLayersModel(saved, read);
    assert.match(artifacts.fingerprint, /^[0-9a-f]{64}$/);
    const model = await buildLayersModel(artifacts, 'weights', 5);
    assert.deepEqual(weightsOf(model), savedWeights);
    model.dispose();
    const again = await readLayersModel(pathToFileURL(saved).href, read);
    assert.equal(again.fingerprint, artifacts.fingerprint, 'a path and its file:// URI read the same bytes');
    const otherWeights = editedCopy('other-weights', () => undefined);
    const bytes = readFileSync(path.join(path.dirname(otherWeights), 'weights.bin'));
    bytes[0] ^= 1;
    writeFileSync(path.join(path.dirname(otherWeights), 'weights.bin'), bytes);
    assert.notEqual((await readLayersModel(otherWeights, read)).fingerprint, artifacts.fingerprint);
  });

  it('init "scratch": the same seed gives the same fresh weights, other seeds other ones', async () => {
    const artifacts = await readLayersModel(saved, read);
    const [a, b, c] = await Promise.all([3, 3, 4].map((seed) => buildLayersModel(artifacts, 'scratch', seed)));
    assert.deepEqual(weightsOf(a), weightsOf(b));
    assert.notDeepEqual(weightsOf(a)[0], weightsOf(c)[0]);
    assert.notDeepEqual(weightsOf(a)[0], savedWeights[0], 'fresh weights, not the file');
    [a, b, c].forEach((m) => m.dispose());
  });

  it('reseeds only initializers that take a seed, and leaves the topology otherwise as it was', () => {
    const topology = {
      layers: [
        {
          kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
          bias_initializer: { class_name: 'Zeros', config: {} },
          units: 3,
        },
      ],
    };
    const out = reseedInitializers(topology, 9) as typeof topology;
    const seedOf = (t: typeof topology) => (t.layers[0].kernel_initializer.config as { seed: unknown }).seed;
    assert.equal(typeof seedOf(out), 'number');
    assert.deepEqual(out.layers[0].bias_initializer, { class_name: 'Zeros', config: {} });
    assert.equal(out.layers[0].units, 3);
    assert.equal(seedOf(topology), null, 'the input is not changed');
    assert.notEqual(seedOf(reseedInitializers(topology, 10) as typeof topology), seedOf(out));
  });

  it('reads the Keras model converted by tensorflowjs, in both modes, and checks it against the dataset', async () => {
    const description = await describeLayersModel(
      { kind: 'tfjs-layers', uri: kerasCnnFixture, init: 'weights' },
      { inputShape: [28, 28, 1], numClasses: 10 },
      read,
    );
    assert.equal(description.parameters, 7122, 'the parameter count the converter script printed');
    assert.equal(description.hasWeights, true);
    const artifacts = await readLayersModel(kerasCnnFixture, read);
    const model = await buildLayersModel(artifacts, 'scratch', 1);
    const out = model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor;
    assert.deepEqual(out.shape, [2, 10]);
    out.dispose();
    model.dispose();
  });

  it('a shape mismatch is InvalidConfig naming both shapes', async () => {
    const model = await buildLayersModel(await readLayersModel(kerasCnnFixture, read), 'weights', 0);
    assert.throws(
      () => checkModelShapes(model, kerasCnnFixture, { inputShape: [32, 32, 3], numClasses: 10 }),
      (err: TypedTaskError) =>
        err.failureType === FailureType.InvalidConfig &&
        err.message.includes('[28,28,1]') &&
        err.message.includes('[32,32,3]') &&
        err.message.includes(kerasCnnFixture),
    );
    assert.throws(
      () => checkModelShapes(model, kerasCnnFixture, { inputShape: [28, 28, 1], numClasses: 100 }),
      (err: TypedTaskError) => err.message.includes('[10]') && err.message.includes('100 classes'),
    );
    model.dispose();
  });

  it('bad files get errors that name them', async () => {
    const notJson = path.join(dir, 'not-json', 'model.json');
    mkdirSync(path.dirname(notJson), { recursive: true });
    writeFileSync(notJson, '{ "modelTopology": ');
    await rejectsWith(() => readLayersModel(notJson, read), FailureType.InvalidConfig, notJson, 'is not JSON');

    const noTopology = editedCopy('no-topology', (json) => delete json.modelTopology);
    await rejectsWith(() => readLayersModel(noTopology, read), FailureType.InvalidConfig, noTopology, 'modelTopology');

    const unknownLayer = editedCopy('unknown-layer', (json) => {
      const topology = json.modelTopology as { config: { layers: { class_name: string }[] } };
      topology.config.layers[1].class_name = 'FancyPooling';
    });
    const artifacts = await readLayersModel(unknownLayer, read);
    await rejectsWith(
      () => buildLayersModel(artifacts, 'scratch', 0),
      FailureType.InvalidConfig,
      unknownLayer,
      'FancyPooling',
    );

    const missingWeights = editedCopy('missing-weights', () => undefined);
    rmSync(path.join(path.dirname(missingWeights), 'weights.bin'));
    await rejectsWith(
      () => readLayersModel(missingWeights, read),
      FailureType.InvalidConfig,
      missingWeights,
      'weights.bin',
      'file not found',
    );

    const short = editedCopy('short-weights', () => undefined);
    writeFileSync(path.join(path.dirname(short), 'weights.bin'), Buffer.alloc(12));
    await rejectsWith(() => readLayersModel(short, read), FailureType.InvalidConfig, short, '12 bytes');

    const climbing = editedCopy('climbing', (json) => {
      (json.weightsManifest as { paths: string[] }[])[0].paths = ['../saved/weights.bin'];
    });
    await rejectsWith(() => readLayersModel(climbing, read), FailureType.InvalidConfig, '../saved/weights.bin');

    const noWeights = await saveLayersModel(smallCnn([12, 12, 1], 4), path.join(dir, 'topology-only'), false);
    const topologyOnly = await readLayersModel(noWeights, read);
    await rejectsWith(() => buildLayersModel(topologyOnly, 'weights', 0), FailureType.InvalidConfig, 'init "weights"');
    (await buildLayersModel(topologyOnly, 'scratch', 0)).dispose();

    await rejectsWith(() => readInputFile('/etc/hostname'), FailureType.ForbiddenPath, '/etc/hostname');
    await rejectsWith(() => readInputFile('https://example.com/model.json'), FailureType.InvalidConfig, 'file://');
  });

  it('weight paths resolve beside model.json for paths and URIs', () => {
    assert.equal(siblingUri('gs://b/models/m/model.json', 'w.bin'), 'gs://b/models/m/w.bin');
    assert.equal(siblingUri('/data/m/model.json', './w.bin'), '/data/m/./w.bin');
    assert.throws(() => siblingUri('/data/m/model.json', '/etc/passwd'), /in or below/);
  });

  it('the config takes a model file, defaulting to fresh weights, and refuses unknown kinds', () => {
    const base = { dataset: { kind: 'fashion-mnist' }, targets: [100] };
    const ok = parseSearchConfig({ ...base, model: { kind: 'tfjs-layers', uri: 'file:///data/m/model.json' } });
    assert.ok(ok.ok);
    assert.deepEqual(ok.config.model, { kind: 'tfjs-layers', uri: 'file:///data/m/model.json', init: 'scratch' });
    const bad = parseSearchConfig({ ...base, model: { kind: 'onnx', uri: 'x' } });
    assert.ok(!bad.ok);
    assert.ok(
      bad.problems.some((p) => p.startsWith('model')),
      bad.problems.join('; '),
    );
  });
});
