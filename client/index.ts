/**
 * winnow's package entry point (`import { startSearch } from 'winnow'`): the
 * client API, the config schema and its types, the workflow and its
 * signals/queries for callers that use a Temporal client directly, and the
 * task queues the workers poll. Nothing else is exported; see the README,
 * "From code".
 */
export { connectClient, workflowUiUrl } from './connection';
export {
  describeSearch,
  failureOf,
  getProgress,
  InvalidReacquireRequest,
  InvalidSearchConfig,
  listSearches,
  NoWorkerAnswered,
  pauseSearch,
  reacquire,
  ReacquireFailed,
  restartSearch,
  SearchNotFound,
  setSearchTargets,
  startSearch,
  stopSearchAfterRound,
  TargetsRefused,
  unpauseSearch,
  waitForSearch,
} from './search-client';
export type {
  ReacquireOptions,
  ReacquireRequest,
  ReacquireResult,
  RestartedSearch,
  SearchProgress,
  SearchResult,
  SearchSummary,
  StartedSearch,
} from './search-client';
export { formatResultTable } from './result-table';
export {
  acquisitionFunctions,
  datasetKinds,
  describeModelChoice,
  formatConfigProblems,
  modelNames,
  parseSearchConfig,
  searchConfigSchema,
} from '../contracts/config';
export type { LayersModelFile, SearchConfig, SearchConfigInput } from '../contracts/config';
export { FailureType } from '../contracts/failures';
export { TaskQueue } from '../contracts/task-queues';
export { reacquireSubset, subsetSearch } from '../workflows';
export {
  pauseSignal,
  progressQuery,
  setTargetsUpdate,
  stopAfterRoundSignal,
  unpauseSignal,
} from '../workflows/definitions';
