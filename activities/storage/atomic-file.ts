/** Crash-safe local writes: temp file, fsync, rename; readers never see half a file. */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface WrittenObject {
  path: string;
  bytes: number;
  sha256: string;
}

export async function writeFileAtomic(target: string, data: Uint8Array): Promise<WrittenObject> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
  const handle = await fs.open(temp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  return { path: target, bytes: data.byteLength, sha256: createHash('sha256').update(data).digest('hex') };
}
