/**
 * Bounded fan-out inside a workflow: items are started in index order, at
 * most `window` in flight, the next one as soon as one finishes. Commands go
 * out in the same order on every replay.
 */
export async function forEachWindowed(
  count: number,
  window: number,
  run: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await run(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
}
