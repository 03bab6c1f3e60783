/**
 * The Temporal web UI in a real browser (Debian's chromium, driven by
 * playwright-core) against the dev server, with both workers polling: a search
 * started from the UI's Start Workflow form, its progress query read in the
 * Queries tab, and bad input failing at once with a message the UI shows.
 * Skips only when chromium is not installed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Browser, Page } from 'playwright-core';
import type { subsetSearch } from '../../workflows';
import type { SearchConfigInput } from '../../contracts/config';
import { progressQuery, searchPhases } from '../../workflows/definitions';
import { TaskQueue } from '../../contracts/task-queues';
import { chromiumMissing, launchChromium, screenshotOnFailure, waitForText } from '../helpers/browser';
import { startDevServerEnvWithUi, withWorkers } from '../helpers/temporal';

const missing = chromiumMissing();

let env: TestWorkflowEnvironment;
let uiUrl: string;
let browser: Browser;
let page: Page;
let storageDir: string;
let stopWorkers: () => void = () => undefined;
let workers: Promise<void> | undefined;

before(async () => {
  if (missing) return;
  storageDir = mkdtempSync(path.join(os.tmpdir(), 'winnow-ui-'));
  process.env.WINNOW_STORAGE_ROOT = storageDir;
  ({ env, uiUrl } = await startDevServerEnvWithUi());
  // Both workers poll for the whole file: the UI's task-queue check and its queries need them.
  const stopped = new Promise<void>((resolve) => (stopWorkers = resolve));
  let markRunning: () => void = () => undefined;
  const running = new Promise<void>((resolve) => (markRunning = resolve));
  workers = withWorkers(env, ['orchestrator', 'gpu'], () => {
    markRunning();
    return stopped;
  });
  workers.catch(() => undefined); // reported in `after`
  await Promise.race([running, workers]);
  // The form checks the queue for pollers once, when it is filled in: have them polling first.
  await waitForPollers(TaskQueue.orchestrator);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
  page.setDefaultTimeout(30_000);
});

after(async () => {
  await browser?.close();
  stopWorkers();
  try {
    await workers;
  } finally {
    await env?.teardown();
    if (storageDir) rmSync(storageDir, { recursive: true, force: true });
  }
});

async function waitForPollers(taskQueue: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { pollers } = await env.client.workflowService.describeTaskQueue({
      namespace: env.namespace ?? 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    if (pollers && pollers.length > 0) return;
    if (Date.now() > deadline) throw new Error(`no worker polls ${taskQueue} after 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The smallest search: 300 synthetic 12x12 samples, one member, one epoch, one target, no baselines. */
function tinyConfig(searchId: string): SearchConfigInput {
  return {
    searchId,
    dataset: { kind: 'synthetic', uri: 'synthetic:?seed=4&shape=12x12x1&classes=4&test=200', size: 300 },
    modelWidth: 0.25,
    training: { epochs: 1, batchSize: 32, learningRate: 0.003 },
    ensemble: { members: 1, checkpointEpochs: [1] },
    shardSize: 128,
    scheme: 'compress',
    targets: [100],
    evaluation: { randomBaseline: false, fullBaseline: false },
  };
}

/** Fills the UI's Start Workflow form (reached from the workflow list's button) with `input` pasted as the single JSON payload. */
async function fillStartForm(workflowId: string, input: string): Promise<void> {
  await page.goto(`${uiUrl}/namespaces/default/workflows`);
  await page.getByRole('button', { name: 'Start Workflow' }).click();
  await page.getByRole('heading', { name: 'Start a Workflow' }).waitFor();
  await page.getByLabel('Workflow ID').fill(workflowId);
  await page.getByLabel('Task Queue').fill(TaskQueue.orchestrator);
  await page.getByLabel('Workflow Type').fill('subsetSearch');
  // Leaving the Task Queue field makes the UI look for its pollers and insert a banner that moves the form below it.
  await page.getByText('Task Queue is Active').waitFor();
  // The Data field is a CodeMirror editor that keeps the last input: replace its content.
  const editor = page.locator('[role="textbox"][data-language="json"]');
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(input);
  // The editor re-renders the form when it loses focus; a click that causes that blur is lost, so blur first.
  await editor.blur();
  await page.getByRole('radio', { name: 'json/plain' }).check();
}

/** Submits the filled form and follows the success toast's link to the workflow's page. */
async function submitStartForm(workflowId: string): Promise<void> {
  await page.getByRole('button', { name: 'Start Workflow' }).click();
  await page.getByRole('link', { name: 'Workflow started successfully' }).click();
  await page.waitForURL((url) => url.pathname.includes(`/workflows/${encodeURIComponent(workflowId)}/`));
}

const statusBadge = () => page.locator('main header');

describe('Temporal web UI in chromium', () => {
  const suffix = randomUUID().slice(0, 8);
  const workflowId = `ui-start-${suffix}`;
  // Distinct from the workflow id, so seeing it proves the pasted input reached the workflow.
  const searchId = `ui-search-${suffix}`;
  const config = tinyConfig(searchId);
  let started = false;

  it(
    'starts a search from the Start Workflow form with one JSON input; its page shows it',
    { timeout: 90_000 },
    async (t) => {
      if (missing) return t.skip(missing);
      await screenshotOnFailure(page, 'start-form', async () => {
        await fillStartForm(workflowId, JSON.stringify(config));
        await submitStartForm(workflowId);
        started = true;

        const handle = env.client.workflow.getHandle(workflowId);
        const description = await handle.describe();
        assert.equal(description.type, 'subsetSearch');
        assert.equal(description.taskQueue, TaskQueue.orchestrator);
        const startEvent = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
        const payloads = startEvent?.input?.payloads ?? [];
        assert.equal(payloads.length, 1, 'the UI sends one payload');
        assert.equal(Buffer.from(payloads[0]!.metadata!.encoding!).toString(), 'json/plain');
        assert.deepEqual(defaultPayloadConverter.fromPayload(payloads[0]!), config);

        // Usually still running here; a fast machine may already have finished it.
        await waitForText(statusBadge(), [workflowId, /\b(Running|Completed)\b/]);
        await waitForText(page.getByTestId('input-and-result'), [`"searchId": "${searchId}"`, '"kind": "synthetic"']);
      });
    },
  );

  it('shows the progress query in the Queries tab', { timeout: 60_000 }, async (t) => {
    if (missing) return t.skip(missing);
    assert.ok(started, 'needs the search the previous test started');
    await screenshotOnFailure(page, 'progress-query', async () => {
      await page.getByRole('tab', { name: 'Queries' }).click();
      await page.getByTestId('query-select-button').click();
      await page.getByRole('option', { name: 'progress' }).click();
      await page.getByRole('button', { name: 'Run Query' }).click();
      const text = await waitForText(page.getByTestId('query-result'), [
        `"searchId": "${searchId}"`,
        /"phase": "[a-z]+"/,
        '"targets": [',
      ]);
      const phase = /"phase": "([a-z]+)"/.exec(text)?.[1];
      assert.ok(
        (searchPhases as readonly string[]).includes(phase ?? ''),
        `phase ${phase} is one of ${searchPhases.join(', ')}`,
      );
      const fromClient = await env.client.workflow.getHandle(workflowId).query(progressQuery);
      assert.equal(fromClient.searchId, searchId);
    });
  });

  it('the search completes, and its page says so with the result', { timeout: 120_000 }, async (t) => {
    if (missing) return t.skip(missing);
    assert.ok(started, 'needs the search the first test started');
    await screenshotOnFailure(page, 'completed', async () => {
      const result = await env.client.workflow.getHandle<typeof subsetSearch>(workflowId).result();
      assert.equal(result.searchId, searchId);
      assert.deepEqual(
        result.evaluations.map((e) => e.size),
        [100],
      );

      await page.getByRole('tab', { name: 'History' }).click();
      await waitForText(statusBadge(), [/\bCompleted\b/]);
      // The result is longer than its viewer, which draws only the lines near its viewport: scroll through it.
      await waitForText(
        page.getByTestId('input-and-result'),
        [/"evaluations": \[/, `"searchId": "${searchId}"`],
        30_000,
        {
          scrollCode: true,
        },
      );
    });
  });

  it(
    'invalid config from the form fails at once; the page shows Failed and names each bad field',
    { timeout: 60_000 },
    async (t) => {
      if (missing) return t.skip(missing);
      const badId = `ui-bad-${suffix}`;
      const bad = { dataset: { kind: 'nope', size: -3 }, targets: [10], colour: 'blue' };
      await screenshotOnFailure(page, 'invalid-config', async () => {
        await fillStartForm(badId, JSON.stringify(bad));
        await submitStartForm(badId);

        const handle = env.client.workflow.getHandle(badId);
        const error = await handle.result().then(
          () => assert.fail('the workflow should have failed'),
          (err: unknown) => err,
        );
        assert.ok(error instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(error)}`);
        assert.ok(error.cause instanceof ApplicationFailure);
        assert.equal(error.cause.type, 'InvalidConfig');
        const { startTime, closeTime } = await handle.describe();
        assert.ok(
          closeTime && closeTime.getTime() - startTime.getTime() < 10_000,
          `failed ${closeTime && closeTime.getTime() - startTime.getTime()} ms after the start`,
        );

        await waitForText(statusBadge(), [badId, /\bFailed\b/]);
        await waitForText(page.getByTestId('input-and-result'), [
          '"type": "InvalidConfig"',
          'invalid search config (3 problems)',
          'dataset.kind: ',
          'dataset.size: ',
          'colour: unknown field',
        ]);
      });
    },
  );

  it('the form itself refuses input that is not JSON', { timeout: 60_000 }, async (t) => {
    if (missing) return t.skip(missing);
    const brokenId = `ui-broken-${suffix}`;
    await screenshotOnFailure(page, 'broken-json', async () => {
      await fillStartForm(brokenId, '{"dataset": {"kind": "synthetic",');
      await waitForText(page.getByRole('main'), ['Input must be valid JSON']);
      assert.equal(
        await page.getByRole('button', { name: 'Start Workflow' }).isEnabled(),
        false,
        'Start Workflow is disabled',
      );
      await assert.rejects(env.client.workflow.getHandle(brokenId).describe(), /not found/i);
    });
  });
});
