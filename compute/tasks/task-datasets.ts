/**
 * Detection data sets opened by compute tasks, kept open in a warm child: a
 * generated-scenes set holds its Fashion-MNIST sources in memory (55 MB, a
 * second or two to read), so the tasks of one search open it once per child.
 * Bounded to a couple of specs; classification sets open cheaply and are not kept.
 */
import { openDetectionDataset, type DetectionDataset } from '../../domain/data';
import type { DetectionDatasetSpec } from '../../contracts/detection-data-spec';

const MAX_OPEN = 2;
const open = new Map<string, Promise<DetectionDataset>>();

export function openDetectionTaskDataset(spec: DetectionDatasetSpec): Promise<DetectionDataset> {
  const key = JSON.stringify(spec);
  let dataset = open.get(key);
  if (dataset) {
    // Most recently used last.
    open.delete(key);
    open.set(key, dataset);
    return dataset;
  }
  dataset = openDetectionDataset(spec);
  // A failed open is not kept: the next task tries again (the folder may have been fixed).
  dataset.catch(() => open.delete(key));
  open.set(key, dataset);
  while (open.size > MAX_OPEN) open.delete(open.keys().next().value as string);
  return dataset;
}
