/**
 * tf.train.Example, the protocol buffer TFRecord image sets store one per
 * record: Example{features: Features{map<string, Feature> feature}}, a
 * Feature being a BytesList, FloatList or Int64List (packed or not). A small
 * hand-written decoder (values are views into the record, nothing copied) and
 * an encoder for writing test and benchmark shards. Pure.
 */

export type Feature =
  { kind: 'bytes'; values: Uint8Array[] } | { kind: 'int64'; values: number[] } | { kind: 'float'; values: number[] };

export type FeatureInput = { bytes: Uint8Array[] } | { int64: number[] } | { float: number[] };

/** A malformed message; the caller adds which file and record. */
export class ExampleFormatError extends Error {}

class Cursor {
  constructor(
    readonly bytes: Uint8Array,
    public at: number,
    readonly end: number,
  ) {}

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.end) throw new ExampleFormatError('a varint runs past the end of its message');
      const b = this.bytes[this.at++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new ExampleFormatError('a varint is longer than 10 bytes');
  }

  /** A length-delimited field's bounds, checked against the enclosing message. */
  span(): [number, number] {
    const length = this.varint();
    const start = this.at;
    if (start + length > this.end) {
      throw new ExampleFormatError(`a field of ${length} bytes runs past the end of its message`);
    }
    this.at = start + length;
    return [start, start + length];
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.advance(8);
    else if (wireType === 2) this.span();
    else if (wireType === 5) this.advance(4);
    else throw new ExampleFormatError(`unsupported protobuf wire type ${wireType}`);
  }

  private advance(n: number): void {
    if (this.at + n > this.end) throw new ExampleFormatError('a fixed-size field runs past the end of its message');
    this.at += n;
  }
}

/**
 * An int64 value: a 64-bit two's complement varint. Up to 7 bytes (49 bits)
 * a double holds it exactly; longer ones (large or negative values) are read
 * again as a BigInt.
 */
function int64(c: Cursor): number {
  const start = c.at;
  const value = c.varint();
  if (c.at - start <= 7) return value;
  let big = 0n;
  for (let i = c.at - 1; i >= start; i--) big = (big << 7n) | BigInt(c.bytes[i] & 0x7f);
  return Number(BigInt.asIntN(64, big));
}

function parseFeature(bytes: Uint8Array, start: number, end: number): Feature {
  const c = new Cursor(bytes, start, end);
  let feature: Feature | undefined;
  while (c.at < end) {
    const tag = c.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire !== 2 || field < 1 || field > 3) {
      c.skip(wire);
      continue;
    }
    const [s, e] = c.span();
    const list = new Cursor(bytes, s, e);
    if (field === 1) {
      const values: Uint8Array[] = [];
      while (list.at < e) {
        const t = list.varint();
        if (t === 0x0a) {
          const [vs, ve] = list.span();
          values.push(bytes.subarray(vs, ve));
        } else list.skip(t & 7);
      }
      feature = { kind: 'bytes', values };
    } else if (field === 3) {
      const values: number[] = [];
      while (list.at < e) {
        const t = list.varint();
        if (t === 0x08) values.push(int64(list));
        else if (t === 0x0a) {
          const [ps, pe] = list.span();
          const packed = new Cursor(bytes, ps, pe);
          while (packed.at < pe) values.push(int64(packed));
        } else list.skip(t & 7);
      }
      feature = { kind: 'int64', values };
    } else {
      const values: number[] = [];
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      while (list.at < e) {
        const t = list.varint();
        if (t === 0x0d) {
          if (list.at + 4 > e) throw new ExampleFormatError('a float runs past the end of its list');
          values.push(view.getFloat32(list.at, true));
          list.at += 4;
        } else if (t === 0x0a) {
          const [ps, pe] = list.span();
          if ((pe - ps) % 4 !== 0) throw new ExampleFormatError('a packed float list is not a multiple of 4 bytes');
          for (let p = ps; p < pe; p += 4) values.push(view.getFloat32(p, true));
        } else list.skip(t & 7);
      }
      feature = { kind: 'float', values };
    }
  }
  return feature ?? { kind: 'bytes', values: [] };
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Every feature of a serialised tf.train.Example, by name. */
export function parseExample(bytes: Uint8Array): Map<string, Feature> {
  const features = new Map<string, Feature>();
  const top = new Cursor(bytes, 0, bytes.length);
  while (top.at < bytes.length) {
    const tag = top.varint();
    if (tag !== 0x0a) {
      top.skip(tag & 7);
      continue;
    }
    const [fs, fe] = top.span();
    const map = new Cursor(bytes, fs, fe);
    while (map.at < fe) {
      const entryTag = map.varint();
      if (entryTag !== 0x0a) {
        map.skip(entryTag & 7);
        continue;
      }
      const [es, ee] = map.span();
      const entry = new Cursor(bytes, es, ee);
      let key = '';
      let feature: Feature = { kind: 'bytes', values: [] };
      while (entry.at < ee) {
        const t = entry.varint();
        if (t === 0x0a) {
          const [ks, ke] = entry.span();
          key = utf8.decode(bytes.subarray(ks, ke));
        } else if (t === 0x12) {
          const [vs, ve] = entry.span();
          feature = parseFeature(bytes, vs, ve);
        } else entry.skip(t & 7);
      }
      features.set(key, feature);
    }
  }
  return features;
}

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;

  varint(value: number): this {
    const out: number[] = [];
    // Two's complement over 64 bits, in BigInt: a double cannot hold 2^64 - 3.
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 128n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return this.raw(Uint8Array.from(out));
  }

  raw(bytes: Uint8Array): this {
    this.chunks.push(bytes);
    this.length += bytes.length;
    return this;
  }

  /** A length-delimited field. */
  field(tag: number, body: Uint8Array): this {
    return this.varint(tag).varint(body.length).raw(body);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

function encodeFeature(input: FeatureInput): Uint8Array {
  const list = new Writer();
  if ('bytes' in input) {
    for (const value of input.bytes) list.field(0x0a, value);
    return new Writer().field(0x0a, list.bytes()).bytes();
  }
  if ('int64' in input) {
    const packed = new Writer();
    for (const value of input.int64) packed.varint(value);
    list.field(0x0a, packed.bytes());
    return new Writer().field(0x1a, list.bytes()).bytes();
  }
  const floats = new Uint8Array(input.float.length * 4);
  const view = new DataView(floats.buffer);
  input.float.forEach((v, i) => view.setFloat32(i * 4, v, true));
  list.field(0x0a, floats);
  return new Writer().field(0x12, list.bytes()).bytes();
}

/** A serialised tf.train.Example (features in the order given; TensorFlow sorts them, readers do not care). */
export function encodeExample(features: Record<string, FeatureInput>): Uint8Array {
  const map = new Writer();
  for (const [key, value] of Object.entries(features)) {
    const entry = new Writer().field(0x0a, new TextEncoder().encode(key)).field(0x12, encodeFeature(value));
    map.field(0x0a, entry.bytes());
  }
  return new Writer().field(0x0a, map.bytes()).bytes();
}
