/** A subset's indices as a file: JSON (with its lineage), CSV, or one index per line. Pure. */
export const exportFormats = ['json', 'csv', 'indices'] as const;
export type ExportFormat = (typeof exportFormats)[number];

export interface ExportedSubset {
  searchId: string;
  size: number;
  poolSize: number;
  manifestUri: string;
  indices: ArrayLike<number>;
  /** The subset manifest's lineage (round, parent, acquisition function, ensemble...). */
  lineage: unknown;
}

export function formatSubset(subset: ExportedSubset, format: ExportFormat): string {
  const indices = Array.from(subset.indices);
  if (format === 'indices') return `${indices.join('\n')}\n`;
  if (format === 'csv') return `index\n${indices.join('\n')}\n`;
  const { searchId, size, poolSize, manifestUri, lineage } = subset;
  return `${JSON.stringify({ searchId, size, poolSize, manifestUri, lineage, indices })}\n`;
}

export function formatFromPath(path: string): ExportFormat | undefined {
  if (path.endsWith('.json')) return 'json';
  if (path.endsWith('.csv')) return 'csv';
  if (path.endsWith('.txt')) return 'indices';
  return undefined;
}
