/**
 * Pascal VOC detection sets: `ImageSets/Main/<split>.txt` lists image ids
 * (the first word of each line), `Annotations/<id>.xml` gives each image's
 * filename, size and objects (name, difficult, bndbox with 1-based inclusive
 * xmin ymin xmax ymax), the images lie in `JPEGImages/`. Boxes become COCO
 * [x, y, w, h] = [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1];
 * difficult objects become crowd objects (matched, never counted). Classes
 * are the given names, else the sorted names of the training split; an
 * image's id is its position in the split's list. The XML is read by a small
 * parser of elements and text (attributes are ignored), enough for VOC.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { GroundTruthObject } from '../detection/types';
import type { DetectionDataset } from './detection-dataset';
import {
  checkBox,
  checkImageFiles,
  detectionImageListDataset,
  type DetectionFolderOptions,
  type DetectionImageEntry,
  type DetectionImageSplit,
} from './detection-image-list';
import { fileError, invalidData } from './invalid-data';

/** splitNames name the lists in ImageSets/Main, e.g. { train: 'trainval' }. */
export interface VocDetectionOptions extends DetectionFolderOptions {
  /** Class names in index order; default: the sorted object names of the training split. */
  classNames?: string[];
}

export interface XmlElement {
  name: string;
  children: XmlElement[];
  /** The element's own text (entities decoded, CDATA kept), children's text not included. */
  text: string;
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') return String.fromCodePoint(Number(name[1] === 'x' ? `0${name.slice(1)}` : name.slice(1)));
    return entities[name] ?? whole;
  });
}

/** Elements and text of an XML document; throws a plain Error with the byte offset of what it cannot read. */
export function parseXml(source: string): XmlElement {
  const root: XmlElement = { name: '', children: [], text: '' };
  const open: XmlElement[] = [root];
  let at = 0;
  const skipTo = (end: string, from: number): number => {
    const found = source.indexOf(end, from);
    if (found < 0) throw new Error(`unterminated markup at offset ${from}`);
    return found + end.length;
  };
  while (at < source.length) {
    const lt = source.indexOf('<', at);
    const top = open[open.length - 1];
    top.text += decodeEntities(source.slice(at, lt < 0 ? source.length : lt));
    if (lt < 0) break;
    if (source.startsWith('<?', lt)) at = skipTo('?>', lt);
    else if (source.startsWith('<!--', lt)) at = skipTo('-->', lt);
    else if (source.startsWith('<![CDATA[', lt)) {
      at = skipTo(']]>', lt);
      top.text += source.slice(lt + 9, at - 3);
    } else if (source.startsWith('<!', lt)) at = skipTo('>', lt);
    else {
      at = skipTo('>', lt);
      const tag = source.slice(lt + 1, at - 1);
      const match = /^(\/?)([A-Za-z_][\w.:-]*)[^]*?(\/?)$/.exec(tag.trim());
      if (!match) throw new Error(`malformed tag <${tag}> at offset ${lt}`);
      const [, closing, name, selfClosing] = match;
      if (closing) {
        if (top.name !== name) throw new Error(`</${name}> at offset ${lt} closes <${top.name || '(none)'}>`);
        open.pop();
      } else {
        const element: XmlElement = { name, children: [], text: '' };
        top.children.push(element);
        if (!selfClosing) open.push(element);
      }
    }
  }
  if (open.length > 1) throw new Error(`<${open[open.length - 1].name}> is never closed`);
  if (root.children.length !== 1) throw new Error(`expected one root element, found ${root.children.length}`);
  return root.children[0];
}

const child = (el: XmlElement | undefined, name: string) => el?.children.find((c) => c.name === name);
const textOf = (el: XmlElement | undefined, name: string) => child(el, name)?.text.trim();

const numberText = z
  .string()
  .regex(/^-?\d+(\.\d+)?$/, 'expected a number')
  .transform(Number);
const vocAnnotationSchema = z.object({
  filename: z.string().min(1).optional(),
  size: z.object({
    width: z.string().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().positive()),
    height: z.string().regex(/^\d+$/, 'expected a whole number').transform(Number).pipe(z.number().positive()),
  }),
  object: z.array(
    z.object({
      name: z.string().min(1),
      difficult: z.enum(['0', '1']).optional(),
      bndbox: z.object({ xmin: numberText, ymin: numberText, xmax: numberText, ymax: numberText }),
    }),
  ),
});
type VocAnnotation = z.infer<typeof vocAnnotationSchema>;

/** One annotation file read and checked against the schema (not yet against its image size and classes). */
export function readVocAnnotation(file: string): { annotation: VocAnnotation; bytes: Buffer } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw fileError(file, err, 'restore the annotation or drop the id from the split list');
  }
  let root: XmlElement;
  try {
    root = parseXml(bytes.toString('utf8'));
  } catch (err) {
    throw invalidData(`${file}: not readable XML (${(err as Error).message}); fix or replace the file`);
  }
  if (root.name !== 'annotation') throw invalidData(`${file}: root element is <${root.name}>, expected <annotation>`);
  const size = child(root, 'size');
  const plain = {
    filename: textOf(root, 'filename'),
    size: size && { width: textOf(size, 'width'), height: textOf(size, 'height') },
    object: root.children
      .filter((c) => c.name === 'object')
      .map((o) => {
        const box = child(o, 'bndbox');
        return {
          name: textOf(o, 'name'),
          difficult: textOf(o, 'difficult'),
          bndbox: box && {
            xmin: textOf(box, 'xmin'),
            ymin: textOf(box, 'ymin'),
            xmax: textOf(box, 'xmax'),
            ymax: textOf(box, 'ymax'),
          },
        };
      }),
  };
  const parsed = vocAnnotationSchema.safeParse(plain);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    throw invalidData(`${file}: <annotation>${where}: ${issue.message}; fix the element`);
  }
  return { annotation: parsed.data, bytes };
}

const REMOVE_HINT = 'drop the id from the split list';

interface VocSplit {
  listFile: string;
  listBytes: Buffer;
  ids: string[];
  annotations: { file: string; annotation: VocAnnotation; bytes: Buffer }[];
}

function readVocSplit(dir: string, name: string): VocSplit {
  const listFile = path.join(dir, 'ImageSets', 'Main', `${name}.txt`);
  let listBytes: Buffer;
  try {
    listBytes = readFileSync(listFile);
  } catch (err) {
    throw fileError(listFile, err, 'a VOC set lists each split in ImageSets/Main/<split>.txt');
  }
  const ids: string[] = [];
  const lineOf = new Map<string, number>();
  listBytes
    .toString('utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      const id = line.trim().split(/\s+/)[0];
      if (!id) return;
      const first = lineOf.get(id);
      if (first !== undefined) {
        throw invalidData(
          `${listFile}: line ${i + 1}: duplicate image id ${id} (also line ${first}); list each image once`,
        );
      }
      lineOf.set(id, i + 1);
      ids.push(id);
    });
  const annotations = ids.map((id) => readVocAnnotation(path.join(dir, 'Annotations', `${id}.xml`)));
  return {
    listFile,
    listBytes,
    ids,
    annotations: annotations.map((a, i) => ({ ...a, file: path.join(dir, 'Annotations', `${ids[i]}.xml`) })),
  };
}

function toDetectionSplit(dir: string, split: VocSplit, classIndex: Map<string, number>): DetectionImageSplit {
  const entries = split.annotations.map(({ file, annotation }, position): DetectionImageEntry => {
    const { width, height } = annotation.size;
    const objects = annotation.object.map((o, i): GroundTruthObject => {
      const where = `${file}: object[${i}] (${o.name})`;
      const category = classIndex.get(o.name);
      if (category === undefined) {
        throw invalidData(
          `${where}: name ${JSON.stringify(o.name)} is not a class (classes: ${[...classIndex.keys()].join(', ')}); ` +
            'fix the name or add the class',
        );
      }
      const { xmin, ymin, xmax, ymax } = o.bndbox;
      const box = checkBox(
        { x: xmin - 1, y: ymin - 1, w: xmax - xmin + 1, h: ymax - ymin + 1 },
        width,
        height,
        `${where}: bndbox xmin ${xmin} ymin ${ymin} xmax ${xmax} ymax ${ymax}`,
        'the image',
      );
      return o.difficult === '1' ? { ...box, category, crowd: true } : { ...box, category };
    });
    return {
      file: path.join(dir, 'JPEGImages', annotation.filename ?? `${split.ids[position]}.jpg`),
      where: file,
      width,
      height,
      imageId: position,
      objects,
    };
  });
  checkImageFiles(entries, REMOVE_HINT);
  return { entries, annotationBytes: [split.listBytes, ...split.annotations.map((a) => a.bytes)] };
}

export async function openVocDetectionDataset(dir: string, options: VocDetectionOptions): Promise<DetectionDataset> {
  const train = readVocSplit(dir, options.splitNames?.train ?? 'train');
  const test = readVocSplit(dir, options.splitNames?.test ?? 'test');
  const classNames =
    options.classNames ?? [...new Set(train.annotations.flatMap((a) => a.annotation.object.map((o) => o.name)))].sort();
  if (classNames.length === 0) {
    throw invalidData(`${train.listFile}: no objects in the training split, so no classes; give classNames`);
  }
  const classIndex = new Map(classNames.map((name, k) => [name, k]));
  return detectionImageListDataset({
    format: 'voc',
    name: `voc (${dir})`,
    shape: options.shape,
    classNames,
    train: toDetectionSplit(dir, train, classIndex),
    test: toDetectionSplit(dir, test, classIndex),
    removeHint: REMOVE_HINT,
    confine: options.confine,
  });
}
