/**
 * The behaviour every ArtifactStore must show, as one suite that the file://
 * and gs:// tests both run. Expected digests are computed here with
 * node:crypto, independently of the store.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { before, describe, it } from 'node:test';
import type { ArtifactStore } from '../../domain/storage/store';

export interface StoreUnderTest {
  store: ArtifactStore;
  /** Replaces an object's bytes behind the store's back, keeping its recorded digest. */
  corrupt(key: string, bytes: Buffer): Promise<void>;
  /** Removes an object's recorded digest behind the store's back. */
  dropRecord(key: string): Promise<void>;
}

const MiB = 1024 * 1024;

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A deterministic stream of `mib` distinct 1 MiB chunks, generated on the fly, and its digest once consumed. */
export function generatedStream(mib: number, seed = 1): { stream: Readable; digest: () => string } {
  const base = Buffer.alloc(MiB);
  for (let i = 0; i < base.length; i += 4) base.writeUInt32LE((Math.imul(i + seed, 2654435761) ^ seed) >>> 0, i);
  const hash = createHash('sha256');
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced === mib) return void this.push(null);
      const chunk = Buffer.from(base);
      chunk.writeUInt32LE(produced, 0); // every chunk differs, so a reordering shows in the digest
      produced++;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  let digest: string | undefined;
  return { stream, digest: () => (digest ??= hash.digest('hex')) };
}

async function digestOf(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

function typed(type: string, ...patterns: RegExp[]) {
  return (err: unknown) => {
    const e = err as Error & { failureType?: string };
    assert.equal(e.failureType ?? e.name, type, `expected ${type}, got ${e.name}: ${e.message}`);
    for (const pattern of patterns) assert.match(e.message, pattern);
    return true;
  };
}

function escape(text: string): RegExp {
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

/** Registers the shared suite; `setup` runs once (in `before`) and gives a fresh, empty store. */
export function describeStoreBehaviour(name: string, setup: () => Promise<StoreUnderTest>): void {
  describe(`artifact store behaviour: ${name}`, () => {
    let t: StoreUnderTest;
    before(async () => {
      t = await setup();
    });

    it('round-trips a small object and records its sha256', async () => {
      const body = Buffer.from(JSON.stringify({ subset: [3, 1, 4, 1, 5] }));
      const stored = await t.store.put('s1/round-0/subset.json', body, { contentType: 'application/json' });
      assert.deepEqual(stored, {
        uri: `${t.store.root}/s1/round-0/subset.json`,
        key: 's1/round-0/subset.json',
        bytes: body.length,
        sha256: sha256(body),
      });
      assert.deepEqual(await t.store.get(stored.uri), body, 'read back by URI');
      assert.deepEqual(
        await t.store.get('s1/round-0/subset.json', { sha256: sha256(body) }),
        body,
        'read back by key, with the expected digest',
      );
      assert.deepEqual(await t.store.stat(stored.uri), stored);
      assert.equal(await t.store.exists(stored.uri), true);
      assert.equal(await t.store.exists('s1/round-0/other.json'), false);

      const replaced = Buffer.from('second version');
      assert.equal((await t.store.put(stored.uri, replaced)).sha256, sha256(replaced), 'a plain put replaces');
      assert.deepEqual(await t.store.get(stored.uri), replaced);
    });

    it('round-trips an empty object', async () => {
      const stored = await t.store.put('s1/empty', Buffer.alloc(0));
      assert.equal(stored.sha256, sha256(Buffer.alloc(0)));
      assert.equal((await t.store.get('s1/empty')).length, 0);
    });

    it('streams a 64 MiB object in and out', async () => {
      const source = generatedStream(64, 7);
      const stored = await t.store.put('s1/round-0/member-0/ckpt-1/weights.bin', source.stream);
      assert.equal(stored.bytes, 64 * MiB);
      assert.equal(stored.sha256, source.digest());
      const back = await digestOf(await t.store.getStream(stored.uri));
      assert.deepEqual(back, { sha256: source.digest(), bytes: 64 * MiB });
    });

    it('takes a stream of a few small chunks (an async iterable)', async () => {
      const parts = [Buffer.from('a,b\n'), Buffer.from('1,2\n'), Buffer.from('3,4\n')];
      const stored = await t.store.put(
        's1/round-0/scores/shard-0',
        (async function* () {
          yield* parts;
        })(),
      );
      assert.equal(stored.sha256, sha256(Buffer.concat(parts)));
      assert.equal((await t.store.get(stored.key)).toString(), 'a,b\n1,2\n3,4\n');
    });

    it('lists by prefix, sorted, and deletes by prefix', async () => {
      const keys = ['ls-1/round-0/a', 'ls-1/round-0/b', 'ls-1/round-1/a', 'ls-10/round-0/a', 'ls-2/x'];
      for (const key of [...keys].reverse()) await t.store.put(key, Buffer.from(key));
      const listed = async (prefix: string) => (await t.store.list(prefix)).map((o) => o.key);

      assert.deepEqual(await listed('ls-1/round-0/'), ['ls-1/round-0/a', 'ls-1/round-0/b']);
      assert.deepEqual(await listed('ls-1/'), ['ls-1/round-0/a', 'ls-1/round-0/b', 'ls-1/round-1/a']);
      assert.deepEqual(
        await listed('ls-1'),
        ['ls-1/round-0/a', 'ls-1/round-0/b', 'ls-1/round-1/a', 'ls-10/round-0/a'],
        'a prefix may end mid-segment',
      );
      assert.deepEqual(await listed(`${t.store.root}/ls-1/round-1/`), ['ls-1/round-1/a'], 'a URI prefix works too');
      assert.deepEqual(await listed('ls-9'), []);
      const one = (await t.store.list('ls-2/'))[0];
      assert.deepEqual(one, { uri: `${t.store.root}/ls-2/x`, key: 'ls-2/x', bytes: 'ls-2/x'.length });
      assert.ok((await listed('')).includes('ls-2/x'), 'the empty prefix lists everything');

      assert.equal(await t.store.deletePrefix('ls-1/'), 3);
      assert.deepEqual(await listed('ls-'), ['ls-10/round-0/a', 'ls-2/x']);
      assert.equal(await t.store.exists('ls-1/round-0/a'), false);
      await assert.rejects(() => t.store.get('ls-1/round-0/a'), typed('MissingArtifact'));
      assert.equal(await t.store.deletePrefix('ls-1/'), 0);
      await assert.rejects(() => t.store.deletePrefix(''), /refusing to delete every artifact/);
      assert.equal(await t.store.deletePrefix('ls-'), 2);
      assert.deepEqual(await listed('ls-'), []);
    });

    it('create-only: the same content again is fine, different content is refused and the original stays', async () => {
      const key = 'co-1/round-3/subset.json';
      const first = Buffer.from('{"indices":[1,2,3]}');
      const stored = await t.store.put(key, first, { createOnly: true });
      assert.deepEqual(
        await t.store.put(key, Buffer.from(first), { createOnly: true }),
        stored,
        'a retry of the same write succeeds',
      );
      const other = Buffer.from('{"indices":[1,2,4]}');
      await assert.rejects(
        () => t.store.put(key, other, { createOnly: true }),
        typed('ArtifactConflict', escape(stored.uri), escape(sha256(first)), escape(sha256(other)), /immutable/),
      );
      assert.deepEqual(await t.store.get(key), first);
    });

    it('create-only holds for streamed (multi-MiB) objects too', async () => {
      const key = 'co-1/round-3/big';
      const a = generatedStream(12, 1);
      const stored = await t.store.put(key, a.stream, { createOnly: true });
      assert.equal(stored.sha256, a.digest());
      const again = generatedStream(12, 1);
      assert.equal((await t.store.put(key, again.stream, { createOnly: true })).sha256, a.digest());
      const b = generatedStream(12, 2);
      await assert.rejects(
        () => t.store.put(key, b.stream, { createOnly: true }),
        typed('ArtifactConflict', escape(a.digest())),
      );
      assert.equal((await digestOf(await t.store.getStream(key))).sha256, a.digest());
    });

    it('detects an object corrupted behind its back, naming the URI and both digests', async () => {
      const key = 'cx-1/round-0/scores/shard-3';
      const good = randomBytes(4096);
      const stored = await t.store.put(key, good);
      const bad = Buffer.from(good);
      bad[1234] ^= 0x01;
      await t.corrupt(key, bad);
      const corrupt = typed(
        'CorruptArtifact',
        escape(stored.uri),
        escape(`expected sha256 ${sha256(good)}`),
        escape(`got ${sha256(bad)}`),
      );
      await assert.rejects(() => t.store.get(key), corrupt);
      await assert.rejects(async () => digestOf(await t.store.getStream(key)), corrupt, 'a stream fails at its end');
    });

    it('checks the digest the caller expects as well', async () => {
      const stored = await t.store.put('cx-1/expected', Buffer.from('abc'));
      const wanted = sha256(Buffer.from('abd'));
      await assert.rejects(
        () => t.store.get(stored.uri, { sha256: wanted }),
        typed('CorruptArtifact', escape(wanted), /expected by the caller/),
      );
    });

    it('refuses to trust an object whose digest was never recorded', async () => {
      await t.store.put('cx-1/unrecorded', Buffer.from('abc'));
      await t.dropRecord('cx-1/unrecorded');
      await assert.rejects(
        () => t.store.get('cx-1/unrecorded'),
        typed('CorruptArtifact', /no recorded sha256/, /cx-1\/unrecorded/),
      );
    });

    it('reports a missing object clearly', async () => {
      const uri = `${t.store.root}/nothing/here.json`;
      await assert.rejects(() => t.store.get(uri), typed('MissingArtifact', escape(uri), /does not exist/));
      await assert.rejects(() => t.store.getStream('nothing/here.json'), typed('MissingArtifact'));
      await assert.rejects(() => t.store.stat('nothing/here.json'), typed('MissingArtifact'));
    });

    it('refuses keys and URIs that would leave the root', async () => {
      const root = t.store.root;
      const outside = root.replace(/[^/]+$/, 'elsewhere');
      for (const ref of [
        '../x',
        'a/../../x',
        '/etc/passwd',
        'a//b',
        './a',
        'a/.hidden',
        'a b',
        `${outside}/x`,
        `${root}/../x`,
        `${root}x/y`,
      ]) {
        await assert.rejects(() => t.store.put(ref, Buffer.from('x')), typed('ForbiddenPath'), ref);
        await assert.rejects(() => t.store.get(ref), typed('ForbiddenPath'), ref);
      }
      await assert.rejects(() => t.store.list('../'), typed('ForbiddenPath'));
      await assert.rejects(() => t.store.deletePrefix(`${outside}/`), typed('ForbiddenPath'));
    });
  });
}
