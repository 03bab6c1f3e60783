import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ApplicationFailure } from '@temporalio/common';
import { openStore } from '../../domain/storage/open-store';
import { toApplicationFailure } from '../../activities/to-application-failure';
import { readAll } from '../../domain/storage/digest';
import { startFakeGcs, type FakeGcs } from '../helpers/fake-gcs';
import { describeStoreBehaviour, generatedStream } from '../helpers/store-behaviour';

let fake: Promise<FakeGcs> | undefined;
const server = () => (fake ??= startFakeGcs());
after(async () => {
  if (fake) await (await fake).stop();
});

const bucket = 'winnow-test';
const prefix = 'team/winnow';
// A low single-request limit sends the multi-MiB objects of the suite through resumable uploads, in 8 MiB chunks.
const gcsOptions = (endpoint: string) => ({
  apiEndpoint: endpoint,
  singleRequestMaxBytes: 1024 * 1024,
  chunkSize: 8 * 1024 * 1024,
  retry: { maxRetries: 2, maxDelaySeconds: 1 },
});

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** An HTTP proxy to `endpoint` that answers a request itself when `intercept` returns a reply, else forwards it. */
async function faultProxy(
  endpoint: string,
  intercept: () => { status: number; body: string } | undefined,
): Promise<Server> {
  const target = new URL(endpoint);
  const proxy = createServer((req, res) => {
    const reply = intercept();
    if (reply) {
      req.resume();
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
      return;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  return proxy;
}

describeStoreBehaviour('gs:// against fake-gcs-server', async () => {
  const gcs = await server();
  await gcs.createBucket(bucket);
  const store = openStore(`gs://${bucket}/${prefix}`, { gcs: gcsOptions(gcs.endpoint) });
  const raw = (key: string) => gcs.storage.bucket(bucket).file(`${prefix}/${key}`);
  return {
    store,
    corrupt: async (key, bytes) => {
      const [metadata] = await raw(key).getMetadata();
      await raw(key).save(bytes, { resumable: false, metadata: { metadata: metadata.metadata } });
    },
    dropRecord: async (key) => {
      const [bytes] = await raw(key).download();
      await raw(key).save(bytes, { resumable: false });
    },
  };
});

describe('gs:// store specifics', () => {
  let gcs: FakeGcs;
  before(async () => {
    gcs = await server();
    await gcs.createBucket('specifics');
  });

  it('names a bucket that does not exist', async () => {
    const store = openStore('gs://no-such-bucket/x', { gcs: gcsOptions(gcs.endpoint) });
    const missingBucket = (err: Error & { failureType?: string }) =>
      err.failureType === 'InvalidConfig' && /bucket no-such-bucket does not exist/.test(err.message);
    await assert.rejects(() => store.put('a', Buffer.from('x')), missingBucket);
    await assert.rejects(() => store.put('big', generatedStream(3).stream), missingBucket);
    await assert.rejects(() => store.get('a'), missingBucket);
    await assert.rejects(() => store.list('a'), missingBucket);
  });

  it('finds the emulator through STORAGE_EMULATOR_HOST', async () => {
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
    try {
      const store = openStore('gs://specifics/env');
      const stored = await store.put('s/obj', Buffer.from('via the environment'));
      assert.equal((await store.get(stored.uri)).toString(), 'via the environment');
      const [onServer] = await gcs.storage.bucket('specifics').file('env/s/obj').download();
      assert.equal(onServer.toString(), 'via the environment');
    } finally {
      if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = saved;
    }
  });

  it('records the sha256 in the object metadata, for single-request and one-request resumable uploads', async () => {
    // Default options: the resumable upload goes in one streamed request (the suite above uses chunks).
    const store = openStore('gs://specifics', { gcs: { apiEndpoint: gcs.endpoint } });
    const small = await store.put('meta/small', Buffer.from('abc'));
    const source = generatedStream(3);
    const large = await store.put('meta/large', source.stream);
    for (const stored of [small, large]) {
      const [metadata] = await gcs.storage.bucket('specifics').file(stored.key).getMetadata();
      assert.equal(metadata.metadata?.sha256, stored.sha256);
      assert.equal(Number(metadata.size), stored.bytes);
    }
    assert.equal(large.sha256, source.digest());
  });

  it('settles a create-only upload that meets an object created while it streamed', async () => {
    const store = openStore('gs://specifics', { gcs: gcsOptions(gcs.endpoint) });
    const content = await readAll(generatedStream(4, 9).stream);
    const racing = (key: string, winner: Buffer) => {
      const source = generatedStream(4, 9);
      let sent = 0;
      return (async function* () {
        for await (const chunk of source.stream) {
          // After the upload has started, another writer creates the object behind the store's back.
          if (sent++ === 2)
            await gcs.storage
              .bucket('specifics')
              .file(key)
              .save(winner, { resumable: false, metadata: { metadata: { sha256: sha256(winner) } } });
          yield chunk as Buffer;
        }
      })();
    };
    const same = await store.put('race/same', racing('race/same', content), { createOnly: true });
    assert.equal(same.sha256, sha256(content));
    const other = Buffer.from('another subset');
    await assert.rejects(
      () => store.put('race/other', racing('race/other', other), { createOnly: true }),
      (err: Error & { failureType?: string }) =>
        err.failureType === 'ArtifactConflict' &&
        err.message.includes(sha256(other)) &&
        err.message.includes(sha256(content)),
    );
    assert.deepEqual(await store.get('race/other'), other, 'the first writer wins');
  });

  it('completes the record of an identical object left without one by an interrupted write', async () => {
    const store = openStore('gs://specifics', { gcs: gcsOptions(gcs.endpoint) });
    const body = Buffer.from('{"subset":[7]}');
    await gcs.storage.bucket('specifics').file('orphan/subset.json').save(body, { resumable: false });
    await assert.rejects(() => store.get('orphan/subset.json'), /no recorded sha256/);
    await store.put('orphan/subset.json', body, { createOnly: true });
    assert.deepEqual(await store.get('orphan/subset.json'), body);
  });

  describe('retries', () => {
    let proxy: Server;
    let failures = 0;
    const failOn = new Set([1, 3]);
    before(async () => {
      let seen = 0;
      // Answers 503 to chosen requests and forwards the rest to fake-gcs-server.
      proxy = await faultProxy(gcs.endpoint, () => {
        seen++;
        if (!failOn.has(seen)) return undefined;
        failures++;
        return { status: 503, body: '{"error":{"code":503,"message":"try again"}}' };
      });
    });
    after(() => proxy.close());

    it('retries transient server errors with backoff', async () => {
      const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const store = openStore('gs://specifics/retry', {
        gcs: { ...gcsOptions(endpoint), retry: { maxRetries: 3, maxDelaySeconds: 1, delayMultiplier: 1.1 } },
      });
      const started = Date.now();
      const stored = await store.put('s/obj', Buffer.from('survives a 503'));
      assert.equal((await store.get(stored.uri)).toString(), 'survives a 503');
      assert.equal(failures, 2, 'both injected 503s were met and retried');
      assert.ok(Date.now() - started >= 1000, 'the retries waited (backoff)');
    });
  });
  describe('permissions', () => {
    let proxy: Server;
    /** deny: every request gets 403 forbidden; rate-limit-once: the next request gets 403 rateLimitExceeded. */
    let mode: 'deny' | 'rate-limit-once' | 'pass' = 'pass';
    let refused = 0;
    before(async () => {
      proxy = await faultProxy(gcs.endpoint, () => {
        if (mode === 'pass') return undefined;
        const reason = mode === 'deny' ? 'forbidden' : 'rateLimitExceeded';
        if (mode === 'rate-limit-once') mode = 'pass';
        refused++;
        const message =
          reason === 'forbidden'
            ? 'winnow-worker@example.iam does not have storage.objects access'
            : 'rate limit exceeded';
        return { status: 403, body: JSON.stringify({ error: { code: 403, message, errors: [{ reason, message }] } }) };
      });
    });
    after(() => proxy.close());

    it('a 403 forbidden is AccessDenied, not retried, naming the object and what to grant; nothing is written', async () => {
      const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const store = openStore('gs://specifics/denied', {
        gcs: { ...gcsOptions(endpoint), retry: { maxRetries: 3, maxDelaySeconds: 1 } },
      });
      mode = 'deny';
      refused = 0;
      const denied = (err: Error & { failureType?: string }) => {
        assert.equal(err.failureType, 'AccessDenied', err.message);
        assert.match(
          err.message,
          /gs:\/\/specifics\/denied\/a\/obj: access denied \(HTTP 403: .*does not have storage\.objects access\)/,
        );
        assert.match(err.message, /read and write access to objects in gs:\/\/specifics, then resume the search/);
        const failure = toApplicationFailure(err) as ApplicationFailure;
        assert.equal(failure.nonRetryable, true, 'Temporal does not retry it either');
        return true;
      };
      await assert.rejects(() => store.put('a/obj', Buffer.from('x')), denied);
      assert.equal(refused, 1, 'the client gave up at once, no retry with the same credentials');
      await assert.rejects(() => store.get('a/obj'), denied);
      mode = 'pass';
      assert.equal(await store.exists('a/obj'), false);
    });

    it('a 403 rate limit stays transient: retryable for Temporal, and the next attempt writes', async () => {
      const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const store = openStore('gs://specifics/limited', { gcs: { ...gcsOptions(endpoint), retry: { maxRetries: 0 } } });
      refused = 0;
      mode = 'rate-limit-once';
      const limited = await store.put('b/obj', Buffer.from('after a rate limit')).then(
        () => assert.fail('the rate-limited write should fail'),
        (err: Error & { failureType?: string }) => err,
      );
      assert.equal(limited.failureType, undefined, limited.message);
      assert.equal(toApplicationFailure(limited), limited, 'left to the activity retry policy');
      assert.equal(refused, 1);
      const stored = await store.put('b/obj', Buffer.from('after a rate limit'));
      assert.equal((await store.get(stored.uri)).toString(), 'after a rate limit');
    });
  });
});
