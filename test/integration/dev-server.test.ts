/**
 * `npm run server`'s launcher: persistent SQLite history, the UI port, and
 * search attributes registered at every start (the CLI's --search-attribute
 * flag only applies when a persistent namespace is first created).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from '../../infra/dev-server';
import { winnowSearchAttributes } from '../../workflows/search-attributes';
import { TaskQueue } from '../../contracts/task-queues';
import { freePortBlock } from '../helpers/ports';

/** gRPC port with room for the dev server's internal services above it, and a UI port away from them. */
async function serverPorts(): Promise<[number, number]> {
  const port = await freePortBlock(6);
  return [port, await freePortBlock(1, [port])];
}

const stateDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-devserver-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

describe('local dev server', () => {
  it('registers the search attributes, serves the UI, and keeps history across restarts', async () => {
    const dbFile = path.join(stateDir, 'temporal.db');
    const [port, uiPort] = await serverPorts();

    const first = await startDevServer({ dbFile, port, uiPort });
    let workflowId: string;
    try {
      assert.deepEqual(first.addedSearchAttributes.sort(), winnowSearchAttributes.map((k) => k.name).sort());
      const ui = await fetch(first.uiUrl);
      assert.equal(ui.status, 200, 'the web UI answers');

      const connection = await Connection.connect({ address: first.address });
      const client = new Client({ connection });
      // No worker polls: the workflow just sits in the history.
      workflowId = `persisted-${Date.now()}`;
      await client.workflow.start('subsetSearch', { taskQueue: TaskQueue.orchestrator, workflowId, args: [{}] });
      await connection.close();
    } finally {
      await first.stop();
    }

    const second = await startDevServer({ dbFile, port, uiPort });
    try {
      assert.deepEqual(second.addedSearchAttributes, [], 'nothing to add on a database that has them');
      const connection = await Connection.connect({ address: second.address });
      const description = await new Client({ connection }).workflow.getHandle(workflowId).describe();
      assert.equal(description.status.name, 'RUNNING', 'the workflow survived the restart');
      await connection.close();
    } finally {
      await second.stop();
    }
  });

  it('fails with a clear message when the port is taken', async () => {
    const [port, uiPort] = await serverPorts();
    const blocker = await startDevServer({ dbFile: path.join(stateDir, 'a.db'), port, uiPort });
    try {
      await assert.rejects(
        startDevServer({ dbFile: path.join(stateDir, 'b.db'), port, uiPort: await freePortBlock(1, [port, uiPort]) }),
        new RegExp(`port ${port} \\(Temporal gRPC\\) on 127\\.0\\.0\\.1 is already in use`),
      );
    } finally {
      await blocker.stop();
    }
  });
});
