/**
 * Debian's chromium driven by playwright-core, for tests of the Temporal web
 * UI. playwright-core ships no browser and no `expect`: the browser comes from
 * apt (.ci/run installs it), and the waiting helpers here poll the page.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(chromiumPath)
    ? undefined
    : `chromium not installed: ${chromiumPath} is missing (on Debian: apt-get install chromium)`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * Polls the locator's visible text until it matches every pattern; fails with the text last seen. With
 * `scrollCode`, code viewers inside it (CodeMirror draws only the lines near its viewport) are scrolled
 * half a screen per poll, wrapping to the top, and the text seen at every position counts.
 */
export async function waitForText(
  locator: Locator,
  patterns: (string | RegExp)[],
  timeoutMs = 30_000,
  { scrollCode = false } = {},
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Set<string>();
  let text = '';
  for (;;) {
    const shown = await locator.innerText({ timeout: Math.max(1, deadline - Date.now()) }).catch(() => undefined);
    if (shown !== undefined) {
      if (!scrollCode) seen.clear();
      seen.add(shown);
      text = [...seen].join('\n');
    }
    if (scrollCode) await locator.evaluate(scrollCodeViewers).catch(() => undefined);
    const missing = patterns.filter((p) => (typeof p === 'string' ? !text.includes(p) : !p.test(text)));
    if (missing.length === 0) return text;
    if (Date.now() >= deadline) {
      throw new Error(
        `after ${timeoutMs} ms the page still lacks ${missing.map(String).join(', ')}; it shows:\n${text.slice(0, 3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Scroller {
  scrollTop: number;
  clientHeight: number;
  scrollHeight: number;
}

/**
 * Moves every CodeMirror scroller under `root` half a screen down, or back to the top from the bottom.
 * Runs in the page (passed to locator.evaluate), so it uses nothing from this module.
 */
function scrollCodeViewers(root: unknown): void {
  const scrollers = (root as { querySelectorAll(selector: string): Iterable<Scroller> }).querySelectorAll(
    '.cm-scroller',
  );
  for (const scroller of scrollers) {
    const atBottom = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1;
    scroller.scrollTop = atBottom ? 0 : scroller.scrollTop + scroller.clientHeight / 2;
  }
}

/**
 * Runs `fn`; when it throws, saves a full-page screenshot into the OS temp
 * folder and adds its path to the error (and stderr), then rethrows.
 */
export async function screenshotOnFailure<T>(page: Page, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const file = path.join(os.tmpdir(), `winnow-ui-${name.replace(/[^a-z0-9-]+/gi, '-')}-${Date.now()}.png`);
    const saved = await page.screenshot({ path: file, fullPage: true, timeout: 10_000 }).then(
      () => `screenshot: ${file}`,
      (e: Error) => `no screenshot (${e.message.split('\n')[0]})`,
    );
    console.error(`[${name}] ${saved} (page ${page.url()})`);
    if (err instanceof Error) err.message += `\n${saved}`;
    throw err;
  }
}
