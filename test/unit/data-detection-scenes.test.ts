/**
 * Generated detection scenes from the real Fashion-MNIST: the same seed gives
 * the same bytes, boxes are tight, inside the canvas and dropped for objects
 * hidden past maxHidden, 1 to 8 objects a scene, classes skewed as the prior
 * says, splits drawn from their own source images, and a set written as COCO
 * files reads back equal to the scenes made in memory.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCocoDetectionDataset } from '../../domain/data/coco-detection';
import {
  createSceneDataset,
  createSceneGenerator,
  type SceneSource,
  type SceneSpecInput,
} from '../../domain/data/detection-scenes';
import {
  loadFashionSceneSources,
  openDetectionDataset,
  type FashionSceneSources,
} from '../../domain/data/open-detection-dataset';
import { writeDetectionScenes } from '../../domain/data/write-detection-scenes';
import { runDetectionScenesCommand } from '../../client/detection-scenes-command';
import { tempDir } from './data-helpers';

const temp = tempDir('scenes');
after(() => temp.remove());
let fashion: FashionSceneSources;
before(async () => {
  fashion = await loadFashionSceneSources();
});

/** sha256 over every file below `dir`, names and bytes, in sorted order. */
function hashTree(dir: string): string {
  const hash = createHash('sha256');
  const visit = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const full = path.join(at, name);
      if (statSync(full).isDirectory()) visit(full);
      else hash.update(`${path.relative(dir, full)}\n`).update(readFileSync(full));
    }
  };
  visit(dir);
  return hash.digest('hex');
}

async function write(name: string, spec: SceneSpecInput): Promise<string> {
  const dir = path.join(temp.dir, name);
  await writeDetectionScenes(dir, createSceneGenerator(spec, fashion.sources), {
    classNames: fashion.classNames,
    origin: fashion.origin,
  });
  return dir;
}

describe('detection scenes', () => {
  it('are deterministic: the same seed writes the same bytes, another seed others', async () => {
    const spec = { seed: 5, train: 30, test: 8 };
    const a = hashTree(await write('a', spec));
    assert.equal(hashTree(await write('b', spec)), a);
    assert.notEqual(hashTree(await write('c', { ...spec, seed: 6 })), a);
    const one = createSceneGenerator(spec, fashion.sources);
    const two = createSceneGenerator(spec, fashion.sources);
    // Scenes follow from their index alone: rendering out of order gives the same pixels.
    const late = two.render('train', 29);
    two.render('test', 3);
    assert.deepEqual(one.render('train', 29), late);
    assert.notDeepEqual(one.render('train', 28).pixels, late.pixels);
  });

  it('place 1-8 objects, box the visible ones tightly inside the canvas, drop the mostly hidden', () => {
    const generator = createSceneGenerator({ seed: 11, train: 600, test: 10, size: 96 }, fashion.sources);
    const counts = new Set<number>();
    let dropped = 0;
    let occluded = 0;
    for (let i = 0; i < 600; i++) {
      const scene = generator.render('train', i);
      assert.equal(scene.pixels.length, 96 * 96);
      counts.add(scene.placed.length);
      assert.ok(scene.objects.length >= 1 && scene.objects.length <= scene.placed.length, `scene ${i}`);
      assert.ok(scene.placed[scene.placed.length - 1].boxed, 'the last object drawn is never hidden');
      let next = 0;
      scene.placed.forEach((p) => {
        assert.ok([14, 20, 28, 36, 48].includes(p.side));
        assert.ok(p.x >= 0 && p.y >= 0 && p.x + p.side <= 96 && p.y + p.side <= 96);
        assert.equal(p.boxed, p.visible >= 0.3 * p.pixels && p.visible > 0, `scene ${i}: ${p.visible}/${p.pixels}`);
        if (!p.boxed) {
          dropped++;
          return;
        }
        if (p.visible < p.pixels) occluded++;
        const box = scene.objects[next++];
        assert.equal(box.category, p.category);
        for (const v of [box.x, box.y, box.w, box.h]) assert.ok(Number.isInteger(v));
        assert.ok(box.w > 0 && box.h > 0 && box.x >= p.x && box.y >= p.y);
        assert.ok(box.x + box.w <= p.x + p.side && box.y + box.h <= p.y + p.side, 'inside the placed object');
      });
    }
    assert.deepEqual(
      [...counts].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.ok(dropped > 20, `${dropped} objects hidden past 70%`);
    assert.ok(occluded > 100, `${occluded} boxed objects partly hidden`);
  });

  it('draw classes by the skewed prior', () => {
    const generator = createSceneGenerator({ seed: 2, train: 2000, test: 10, classSkew: 0.75 }, fashion.sources);
    const expected = Array.from({ length: 10 }, (_, k) => 0.75 ** k);
    const sum = expected.reduce((a, b) => a + b, 0);
    generator.prior.forEach((p, k) => assert.ok(Math.abs(p - expected[k] / sum) < 1e-12));
    const seen = new Array(10).fill(0);
    let total = 0;
    for (let i = 0; i < 2000; i++) {
      for (const p of generator.render('train', i).placed) {
        seen[p.category]++;
        total++;
        assert.equal(
          fashion.sources.train.labels[p.sourceIndex],
          p.category,
          'an object of class k is a class-k image',
        );
      }
    }
    seen.forEach((count, k) =>
      assert.ok(Math.abs(count / total - generator.prior[k]) < 0.02, `class ${k}: ${count}/${total}`),
    );
    assert.ok(seen[0] > 8 * seen[9], `class 0 ${seen[0]} vs class 9 ${seen[9]}`);
    const uniform = createSceneGenerator({ seed: 2, classSkew: 1 }, fashion.sources);
    assert.ok(uniform.prior.every((p) => Math.abs(p - 0.1) < 1e-12));
  });

  it('cut each split from its own source images only', () => {
    const flat = (value: number, labels: number): SceneSource => ({
      rows: 28,
      cols: 28,
      pixels: new Uint8Array(labels * 784).fill(value),
      labels: Int32Array.from({ length: labels }, (_, i) => i % 10),
      numClasses: 10,
    });
    const generator = createSceneGenerator({ seed: 1, noise: 0 }, { train: flat(200, 30), test: flat(90, 20) });
    for (let i = 0; i < 20; i++) {
      assert.ok(generator.render('train', i).pixels.every((v) => v === 0 || v === 200));
      assert.ok(generator.render('test', i).pixels.every((v) => v === 0 || v === 90));
    }
  });

  it('written as COCO files, read back equal to the scenes made in memory', async () => {
    const spec = { seed: 9, train: 40, test: 12, size: 64, objectSizes: [14, 28, 40] };
    const dir = await write('roundtrip', spec);
    const coco = await openCocoDetectionDataset(dir, { shape: [64, 64, 1] });
    const scenes = createSceneDataset(createSceneGenerator(spec, fashion.sources), fashion);
    assert.deepEqual(coco.info.classNames, fashion.classNames);
    assert.deepEqual(coco.info.samples, scenes.info.samples);
    for (const split of ['train', 'test'] as const) {
      assert.deepEqual(await coco.readAnnotations(split), await scenes.readAnnotations(split));
      const count = scenes.info.samples[split];
      const [a, b] = await Promise.all([coco.readRange(split, 0, count), scenes.readRange(split, 0, count)]);
      assert.deepEqual(a, b);
    }
    const indices = [39, 0, 17, 0];
    assert.deepEqual(await coco.readIndices('train', indices), await scenes.readIndices('train', indices));
    const batch = await scenes.readIndices('train', indices);
    assert.deepEqual([...batch.imageIds], [40, 1, 18, 1]);
    assert.deepEqual(batch.images.subarray(4096, 8192), batch.images.subarray(3 * 4096));
  });

  it('open through openDetectionDataset with a checked spec and a lineage fingerprint', async () => {
    const ds = await openDetectionDataset({ format: 'scenes', seed: 3, train: 20, test: 5 });
    assert.deepEqual(ds.info.shape, [96, 96, 1]);
    assert.equal(ds.info.numClasses, 10);
    assert.equal(ds.info.kind, 'scenes');
    const hash = await ds.fingerprint();
    assert.equal(
      await (await openDetectionDataset({ format: 'scenes', seed: 3, train: 20, test: 5 })).fingerprint(),
      hash,
    );
    assert.notEqual(
      await (await openDetectionDataset({ format: 'scenes', seed: 4, train: 20, test: 5 })).fingerprint(),
      hash,
    );
    const invalidConfig = (pattern: RegExp) => (err: Error & { failureType?: string }) =>
      err.failureType === 'InvalidConfig' && pattern.test(err.message);
    await assert.rejects(
      openDetectionDataset({ format: 'scenes', size: 32, objectSizes: [14, 48] }),
      invalidConfig(/objectSizes: every object size must be at most the canvas size/),
    );
    await assert.rejects(
      openDetectionDataset({ format: 'scenes', seed: 1, colour: true } as never),
      invalidConfig(/colour/),
    );
    await assert.rejects(openDetectionDataset({ format: 'yolo' } as never), invalidConfig(/format/));
  });

  it('the command writes a set and refuses a non-empty folder', async () => {
    const lines: string[] = [];
    const out = path.join(temp.dir, 'cli');
    const code = await runDetectionScenesCommand(['--out', out, '--seed', '5', '--train', '30', '--test', '8'], (l) =>
      lines.push(l),
    );
    assert.equal(code, 0, lines.join('\n'));
    assert.match(lines[lines.length - 1], /wrote 30 train and 8 test scenes/);
    assert.equal(hashTree(out), hashTree(path.join(temp.dir, 'a')), 'the same bytes as the library call');
    assert.equal(await runDetectionScenesCommand(['--out', out], () => {}), 2);
    assert.equal(await runDetectionScenesCommand(['--out', path.join(temp.dir, 'x'), '--size', 'big'], () => {}), 2);
  });
});
