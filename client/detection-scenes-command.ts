/**
 * Writes a generated detection set (docs/detection-data.md) as COCO files:
 *
 *   npm run data:detection-scenes -- --out DIR [--seed 0] [--train 1000] [--test 200] [--size 96]
 *     [--max-objects 8] [--object-sizes 14,20,28,36,48] [--class-skew 0.75] [--max-clutter 4]
 *     [--noise 24] [--max-hidden 0.7]
 *
 * Objects come from Fashion-MNIST (WINNOW_FASHION_MNIST_DIR, else the Debian
 * folder); the same options give the same files. Prints what it wrote and the
 * time it took.
 */
import { existsSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createSceneGenerator, sceneSpecSchema, type SceneSpecInput } from '../domain/data/detection-scenes';
import { loadFashionSceneSources } from '../domain/data/open-detection-dataset';
import { writeDetectionScenes } from '../domain/data/write-detection-scenes';
import { formatBytes } from './store-command';

const usage = `usage: npm run data:detection-scenes -- --out DIR [--seed S] [--train N] [--test M] [--size PX]
  [--max-objects K] [--object-sizes A,B,..] [--class-skew R] [--max-clutter C] [--noise V] [--max-hidden F]
the folder must be new or empty; see docs/detection-data.md`;

const numeric = {
  seed: 'seed',
  train: 'train',
  test: 'test',
  size: 'size',
  'max-objects': 'maxObjects',
  'class-skew': 'classSkew',
  'max-clutter': 'maxClutter',
  noise: 'noise',
  'max-hidden': 'maxHidden',
} as const;

/** Runs the command line; returns the exit code (0 done, 1 failed, 2 usage). */
export async function runDetectionScenesCommand(
  argv: string[],
  print: (line: string) => void = console.log,
): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        'object-sizes': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        ...Object.fromEntries(Object.keys(numeric).map((k) => [k, { type: 'string' as const }])),
      },
    }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    print(`${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    print(usage);
    return 0;
  }
  const out = values.out;
  if (typeof out !== 'string' || out === '') {
    print(`--out is required\n${usage}`);
    return 2;
  }
  if (existsSync(out) && readdirSync(out).length > 0) {
    print(`--out ${out}: the folder is not empty; give a new folder`);
    return 2;
  }
  const input: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(numeric)) {
    if (typeof values[flag] === 'string') input[field] = Number(values[flag]);
  }
  if (typeof values['object-sizes'] === 'string') input.objectSizes = values['object-sizes'].split(',').map(Number);
  const spec = sceneSpecSchema.safeParse(input);
  if (!spec.success) {
    print(`${spec.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n${usage}`);
    return 2;
  }
  try {
    const started = performance.now();
    const fashion = await loadFashionSceneSources();
    const generator = createSceneGenerator(spec.data as SceneSpecInput, fashion.sources);
    const written = await writeDetectionScenes(out, generator, {
      classNames: fashion.classNames,
      origin: fashion.origin,
      onProgress: (split, done, total) => print(`${split}: ${done}/${total} scenes`),
    });
    const seconds = (performance.now() - started) / 1000;
    print(
      `wrote ${written.images.train} train and ${written.images.test} test scenes ` +
        `(${written.objects.train} and ${written.objects.test} boxes, ${formatBytes(written.bytes)}) to ${out} ` +
        `in ${seconds.toFixed(1)} s; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
    );
    return 0;
  } catch (err) {
    print(`detection scenes: ${(err as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  runDetectionScenesCommand(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
