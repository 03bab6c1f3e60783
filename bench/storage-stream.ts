/**
 * Streams a large object (default 1 GiB, generated on the fly, never held in
 * memory) into and out of the file:// store, and the gs:// store against a
 * local fake-gcs-server (filesystem backend under the temp folder), sampling
 * this process's RSS. Target: peak RSS under 200 MiB.
 *
 *   node dist/bench/storage-stream.js [--mib 1024] [--gcs-mib N] [--chunk-mib N] [--no-gcs]
 *
 * fake-gcs-server itself keeps uploads in memory (measured: about 8 GB of its
 * own RSS after some 700 MiB of a chunked upload), so --gcs-mib can size the
 * gs:// run to what the machine can give it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type ArtifactStore } from '../domain/storage/store';
import { openStore } from '../domain/storage/open-store';
import { startFakeGcs } from '../test/helpers/fake-gcs';

const MiB = 1024 * 1024;

function generated(mib: number): Readable {
  const base = Buffer.alloc(MiB);
  for (let i = 0; i < base.length; i += 4) base.writeUInt32LE(Math.imul(i + 1, 2654435761) >>> 0, i);
  let produced = 0;
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (produced === mib) return void this.push(null);
      const chunk = Buffer.from(base);
      chunk.writeUInt32LE(produced++, 0);
      this.push(chunk);
    },
  });
}

/** Samples RSS every 20 ms while `fn` runs. */
async function sampled<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number; peakRssMiB: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  const started = process.hrtime.bigint();
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, seconds: Number(process.hrtime.bigint() - started) / 1e9, peakRssMiB: peak / MiB };
  } finally {
    clearInterval(timer);
  }
}

async function measure(label: string, store: ArtifactStore, mib: number): Promise<boolean> {
  const key = 'bench/round-0/member-0/ckpt-1/weights.bin';
  const put = await sampled(() => store.put(key, generated(mib)));
  const get = await sampled(async () => {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of await store.getStream(key)) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    return { bytes, sha256: hash.digest('hex') };
  });
  const ok = get.result.bytes === mib * MiB && get.result.sha256 === put.result.sha256;
  const peak = Math.max(put.peakRssMiB, get.peakRssMiB);
  console.log(
    `${label.padEnd(40)} ${mib} MiB: put ${(mib / put.seconds).toFixed(0).padStart(5)} MB/s (peak RSS ${put.peakRssMiB.toFixed(0)} MiB)` +
      `  get+verify ${(mib / get.seconds).toFixed(0).padStart(5)} MB/s (peak RSS ${get.peakRssMiB.toFixed(0)} MiB)` +
      `  ${ok ? 'round trip ok' : 'ROUND TRIP MISMATCH'}  ${peak < 200 ? 'under' : 'OVER'} 200 MiB`,
  );
  await store.deletePrefix('bench/');
  return ok && peak < 200;
}

function peakRssOf(pid: number | undefined): string {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    return `${(kb / 1024).toFixed(0)} MiB`;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mib: { type: 'string', default: '1024' },
      'gcs-mib': { type: 'string' },
      'chunk-mib': { type: 'string' },
      'no-gcs': { type: 'boolean', default: false },
    },
  });
  const mib = Number(values.mib);
  if (!Number.isInteger(mib) || mib < 1) throw new Error(`--mib ${values.mib}: give a whole number of MiB`);
  console.log(
    `storage-stream: ${mib} MiB object, MB = MiB; ${os.cpus()[0]?.model} x ${os.cpus().length}, Node ${process.version}, ${os.platform()} ${os.release()}`,
  );
  console.log(
    `load average at start: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; RSS before: ${(process.memoryUsage.rss() / MiB).toFixed(0)} MiB`,
  );
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'winnow-bench-storage-'));
  let allOk = true;
  try {
    allOk =
      (await measure('file:// (tmp dir)', openStore(pathToFileURL(path.join(scratch, 'store')).href), mib)) && allOk;
    if (!values['no-gcs']) {
      const gcs = await startFakeGcs({ backend: { filesystemRoot: path.join(scratch, 'gcs') } });
      try {
        await gcs.createBucket('winnow-bench');
        const chunkSize = values['chunk-mib'] === undefined ? undefined : Number(values['chunk-mib']) * MiB;
        const store = openStore('gs://winnow-bench/b', { gcs: { apiEndpoint: gcs.endpoint, chunkSize } });
        const gcsMib = Number(values['gcs-mib'] ?? mib);
        allOk =
          (await measure(
            `gs:// (fake-gcs-server, ${chunkSize ? `${values['chunk-mib']} MiB chunks` : 'one request'})`,
            store,
            gcsMib,
          )) && allOk;
        console.log(`fake-gcs-server's own peak RSS (VmHWM): ${peakRssOf(gcs.pid)}`);
      } finally {
        await gcs.stop();
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  console.log(
    `load average at end: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  if (!allOk) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
