/**
 * winnow's COCO evaluation against pycocotools' COCOeval on the same
 * predictions: seeded random scenes written as COCO json, evaluated by
 * test/python/coco_eval.py with the Python that `npm run tools` installs
 * (.tools/bin/pycocotools-python, or PYCOCOTOOLS_PYTHON). All twelve stats
 * and every category's AP, AP50, AP75 and AR100 must agree to 1e-4 (they
 * agree to rounding). Without that Python the test fails; it never skips.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { COCO_STAT_NAMES, evaluateCoco } from '../../domain/detection/coco-map';
import { repoRoot, toolPath } from '../../infra/tools';
import {
  handWorkedScene,
  randomScene,
  toCocoJson,
  type RandomSceneOptions,
  type Scene,
} from '../helpers/detection-scenes';

const TOLERANCE = 1e-4;

interface PycocotoolsResult {
  stats: number[];
  perCategory: { categoryId: number; ap: number; ap50: number; ap75: number; ar100: number }[];
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'winnow-coco-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function pycocotools(scene: Scene, name: string): PycocotoolsResult {
  let python: string;
  try {
    python = toolPath('pycocotools-python');
  } catch (error) {
    assert.fail(`pycocotools is needed for this comparison: ${(error as Error).message}`);
  }
  const { annotations, results } = toCocoJson(scene);
  const gtPath = path.join(dir, `${name}-gt.json`);
  const dtPath = path.join(dir, `${name}-dt.json`);
  writeFileSync(gtPath, JSON.stringify(annotations));
  writeFileSync(dtPath, JSON.stringify(results));
  const script = path.join(repoRoot(), 'test', 'python', 'coco_eval.py');
  const run = spawnSync(python, [script, gtPath, dtPath], { encoding: 'utf8' });
  assert.equal(
    run.status,
    0,
    `${python} ${script} failed (${run.error?.message ?? `exit ${run.status}`}); run \`npm run tools\` ` +
      `to install pycocotools into the tools cache.\n${run.stderr}`,
  );
  return JSON.parse(run.stdout) as PycocotoolsResult;
}

/** Largest absolute difference over the 12 stats and the per-category numbers; fails past TOLERANCE. */
function compare(scene: Scene, name: string): number {
  const expected = pycocotools(scene, name);
  const actual = evaluateCoco(scene.groundTruth, scene.detections, { numClasses: scene.numClasses });
  let worst = 0;
  const check = (a: number, e: number, what: string) => {
    const diff = Math.abs(a - e);
    worst = Math.max(worst, diff);
    assert.ok(diff <= TOLERANCE, `${name}: ${what} is ${a}, pycocotools says ${e}`);
  };
  assert.equal(expected.stats.length, 12);
  COCO_STAT_NAMES.forEach((stat, i) => check(actual.stats[i]!, expected.stats[i]!, stat));
  for (const c of expected.perCategory) {
    const mine = actual.perCategory[c.categoryId - 1]!;
    for (const key of ['ap', 'ap50', 'ap75', 'ar100'] as const)
      check(mine[key], c[key], `category ${mine.category} ${key}`);
  }
  console.log(
    `# ${name}: max |winnow - pycocotools| = ${worst.toExponential(2)}; stats ${actual.stats.map((s) => s.toFixed(4)).join(' ')}`,
  );
  return worst;
}

const randomCases: { name: string; what: string; options: RandomSceneOptions }[] = [
  {
    name: 'random-150',
    what: '150 random images, 6 categories, crowds, ties, two images past maxDets',
    options: { seed: 19, images: 150, numClasses: 6, maxObjects: 8, crowdRate: 0.05, crowdedImages: [3, 77] },
  },
  {
    name: 'dense-60',
    what: '60 dense images (many overlapping objects, many crowds)',
    options: { seed: 7, images: 60, numClasses: 3, maxObjects: 25, crowdRate: 0.15 },
  },
  {
    name: 'random-200',
    what: '200 images of one category plus one without ground truth',
    options: { seed: 2026, images: 200, numClasses: 2, maxObjects: 5, crowdRate: 0.02, crowdedImages: [0] },
  },
];

describe('COCO mAP against pycocotools COCOeval', () => {
  it('agrees on the hand-worked example', () => {
    compare(handWorkedScene(), 'hand-worked');
  });

  for (const { name, what, options } of randomCases) {
    it(`agrees on ${what}`, () => {
      compare(randomScene(options), name);
    });
  }
});
