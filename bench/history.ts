/**
 * History size and orchestration overhead of one search on a running server:
 * events per run (one run per round) and the wall time not spent in
 * activities. `npm run bench:history -- <workflowId>` (TEMPORAL_ADDRESS as
 * for the CLI). The demo prints the same figures for its own search.
 */
import { connectClient } from '../client/connection';
import { formatHistoryStats, searchHistoryStats } from '../client/search-history';

async function main(): Promise<void> {
  const workflowId = process.argv[2];
  if (!workflowId) throw new Error('usage: npm run bench:history -- <workflowId>');
  const client = await connectClient();
  try {
    console.log(`search ${workflowId}`);
    console.log(formatHistoryStats(await searchHistoryStats(client, workflowId)));
  } finally {
    await client.connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`[bench:history] ${(err as Error).message}`);
  process.exit(1);
});
