/** A search id safe for artifact paths, derived from a workflow id when the config gives none. */
export function deriveSearchId(workflowId: string): string {
  const cleaned = workflowId
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 128);
  return cleaned.length > 0 ? cleaned : 'search';
}
