/** Every workflow the orchestrator worker registers. */
export { subsetSearch } from './subset-search';
export type { SearchResult } from './subset-search';
