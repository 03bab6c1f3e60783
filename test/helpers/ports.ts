/** Free loopback TCP ports for servers a test starts. */
import net from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A port p with p..p+count-1 all free. The Temporal dev server derives its
 * internal services' ports from the frontend port (p+1 and up), so tests that
 * choose its port need room above it.
 */
export async function freePortBlock(count: number, avoid: number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (ports.some((p) => avoid.some((a) => Math.abs(a - p) < 10))) continue;
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return base;
  }
  throw new Error(`no block of ${count} free ports found`);
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
