/**
 * Custom search attributes that make searches filterable in the Temporal UI.
 * Registered by the dev-server launcher and the test helper; upserted by the
 * workflow as it moves on.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const WinnowRound = defineSearchAttributeKey('WinnowRound', SearchAttributeType.INT);
export const WinnowSubsetSize = defineSearchAttributeKey('WinnowSubsetSize', SearchAttributeType.INT);
export const WinnowDataset = defineSearchAttributeKey('WinnowDataset', SearchAttributeType.KEYWORD);
export const WinnowStatus = defineSearchAttributeKey('WinnowStatus', SearchAttributeType.KEYWORD);

export const winnowSearchAttributes = [WinnowRound, WinnowSubsetSize, WinnowDataset, WinnowStatus] as const;
