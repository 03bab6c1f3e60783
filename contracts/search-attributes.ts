/**
 * The custom search attributes that make searches filterable in the Temporal
 * UI: names and value types only, free of the SDK, so that the dev-server
 * launcher registers exactly the keys that workflows/search-attributes.ts
 * defines and the workflow upserts.
 */
export const searchAttributeSpecs = {
  round: { name: 'WinnowRound', type: 'INT' },
  subsetSize: { name: 'WinnowSubsetSize', type: 'INT' },
  dataset: { name: 'WinnowDataset', type: 'KEYWORD' },
  status: { name: 'WinnowStatus', type: 'KEYWORD' },
} as const;

export type SearchAttributeSpec = (typeof searchAttributeSpecs)[keyof typeof searchAttributeSpecs];

/** Values of WinnowStatus. */
export type SearchStatus = 'running' | 'completed' | 'failed';
