/**
 * COCO evaluation at data-set scale: seconds and peak memory of
 * evaluateCoco over many images (COCO val2017 has 5,000; a detection pool
 * tens of thousands), to show it grows linearly with the images.
 *
 *   npm run bench:coco-map                      10k to 50k images of ~7 detections, 10k and 20k of ~140
 *   node dist/bench/coco-map.js --quick         small sizes, to check it runs
 */
import { evaluateCoco } from '../domain/detection/coco-map';
import { randomScene } from '../test/helpers/detection-scenes';
import { machineLine, sampleRss } from './machine';

const quick = process.argv.includes('--quick');
/** [images, every image with more than 100 detections (a detector's raw top-100 plus)] */
const runs: [number, boolean][] = quick
  ? [
      [2_000, false],
      [1_000, true],
    ]
  : [
      [10_000, false],
      [20_000, false],
      [50_000, false],
      [10_000, true],
      [20_000, true],
    ];

console.log(machineLine());
for (const [images, full] of runs) {
  const crowdedImages = full ? Array.from({ length: images }, (_, i) => i) : [0, 1];
  const scene = randomScene({ seed: images, images, numClasses: 10, maxObjects: 12, crowdRate: 0.02, crowdedImages });
  const objects = scene.groundTruth.reduce((n, image) => n + image.objects.length, 0);
  const detections = scene.detections.reduce((n, list) => n + list.length, 0);
  const rss = sampleRss();
  const start = process.hrtime.bigint();
  const result = evaluateCoco(scene.groundTruth, scene.detections, { numClasses: scene.numClasses });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `${images} images, ${objects} objects, ${detections} detections: ${seconds.toFixed(2)} s ` +
      `(${((seconds / images) * 1e6).toFixed(0)} us per image), peak RSS ${rss.stop().toFixed(0)} MiB, ` +
      `mAP ${result.summary.ap.toFixed(4)}`,
  );
}
