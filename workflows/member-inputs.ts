/** The one builder of trainMember inputs, for ensemble members and evaluation models alike. */
import type { TrainMemberInput } from '../activities';
import type { EvaluationModel, SearchConfig } from '../contracts/config';
import type { TrainingBudget } from '../contracts/training-budget';
import type { SearchState } from './search-plan';

export interface MemberSpec {
  /** The subset to train on; null = the whole pool. */
  subsetUri: string | null;
  memberKey: string;
  seed: number;
  /** A checkpoint to start from (fine-tuning); fresh weights from `seed` when absent. */
  initFrom?: string;
  /** Names the model in logs and errors (search, round, member). */
  context: string;
}

export function memberInput(
  config: SearchConfig,
  state: SearchState,
  budget: TrainingBudget,
  member: MemberSpec,
  /** Another architecture than the search model (evaluation.models). */
  model: EvaluationModel = config.model,
): TrainMemberInput {
  return {
    storageRoot: state.storageRoot,
    dataset: config.dataset,
    model: typeof model === 'string' ? { name: model, width: config.modelWidth } : model,
    training: budget.training,
    subsetUri: member.subsetUri,
    memberKey: member.memberKey,
    checkpointEpochs: budget.checkpointEpochs,
    seed: member.seed,
    ...(member.initFrom !== undefined ? { initFrom: member.initFrom } : {}),
    context: member.context,
  };
}
