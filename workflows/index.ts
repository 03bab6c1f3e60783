/** Every workflow the orchestrator worker registers. */
export { subsetSearch } from './subset-search';
export { scorePoolShards } from './score-pool';
export { reacquireSubset } from './reacquire';
export type { SearchResult } from './subset-search';
