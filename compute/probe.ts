/** A small real tensor computation that proves the backend works and says which one it is. */
import os from 'node:os';
import { initComputeBackend, type BackendName } from './backend';

export interface ComputeProbe {
  backend: BackendName;
  /** Backends passed over before this one, with the reason. */
  skipped: string[];
  tfjsVersion: string;
  host: string;
  pid: number;
  /** Sum of a fixed 64x64 matrix product; the same on every correct backend (to float tolerance). */
  checksum: number;
}

export async function probeComputeBackend(): Promise<ComputeProbe> {
  const { name, tf, skipped } = await initComputeBackend();
  const checksum = tf.tidy(() => {
    const a = tf.linspace(-1, 1, 64 * 64).reshape([64, 64]);
    return tf.matMul(a, a, false, true).sum();
  });
  const value = (await checksum.data())[0];
  checksum.dispose();
  return {
    backend: name,
    skipped,
    tfjsVersion: tf.version.tfjs,
    host: os.hostname(),
    pid: process.pid,
    checksum: value,
  };
}
