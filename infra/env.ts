/**
 * Connection settings from the environment, validated once. The same names
 * work for a local dev server, a self-hosted cluster and Temporal Cloud.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const envSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Temporal Cloud API key; implies TLS. */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /** "true" forces TLS with the system CAs (set automatically by an API key or client certificate). */
  TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
});

export type WinnowEnv = z.infer<typeof envSchema>;

export function readEnv(env: NodeJS.ProcessEnv = process.env): WinnowEnv {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid environment: ${problems}`);
  }
  const e = parsed.data;
  if ((e.TEMPORAL_TLS_CERT === undefined) !== (e.TEMPORAL_TLS_KEY === undefined)) {
    throw new Error(
      'invalid environment: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together (client certificate and its key)',
    );
  }
  return e;
}

export interface ConnectionSettings {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?:
    | boolean
    | { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer; serverNameOverride?: string };
}

function readPem(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${name}=${file}: cannot read it (${(err as Error).message})`, { cause: err });
  }
}

/** Options shared by @temporalio/client's Connection and @temporalio/worker's NativeConnection. */
export function connectionSettings(env: WinnowEnv = readEnv()): ConnectionSettings {
  const wantsTls =
    env.TEMPORAL_TLS === 'true' ||
    env.TEMPORAL_API_KEY !== undefined ||
    env.TEMPORAL_TLS_CERT !== undefined ||
    env.TEMPORAL_TLS_CA !== undefined;
  let tls: ConnectionSettings['tls'];
  if (wantsTls && env.TEMPORAL_TLS !== 'false') {
    tls = {
      clientCertPair:
        env.TEMPORAL_TLS_CERT && env.TEMPORAL_TLS_KEY
          ? {
              crt: readPem('TEMPORAL_TLS_CERT', env.TEMPORAL_TLS_CERT),
              key: readPem('TEMPORAL_TLS_KEY', env.TEMPORAL_TLS_KEY),
            }
          : undefined,
      serverRootCACertificate: env.TEMPORAL_TLS_CA ? readPem('TEMPORAL_TLS_CA', env.TEMPORAL_TLS_CA) : undefined,
      serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME,
    };
  }
  return { address: env.TEMPORAL_ADDRESS, namespace: env.TEMPORAL_NAMESPACE, apiKey: env.TEMPORAL_API_KEY, tls };
}
