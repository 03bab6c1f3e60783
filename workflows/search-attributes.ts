/**
 * Typed keys of winnow's search attributes (names and types from
 * contracts/search-attributes.ts), upserted by the workflow as it moves on and
 * read by the client.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { searchAttributeSpecs as spec } from '../contracts/search-attributes';

export const WinnowRound = defineSearchAttributeKey(spec.round.name, spec.round.type);
export const WinnowSubsetSize = defineSearchAttributeKey(spec.subsetSize.name, spec.subsetSize.type);
export const WinnowDataset = defineSearchAttributeKey(spec.dataset.name, spec.dataset.type);
export const WinnowStatus = defineSearchAttributeKey(spec.status.name, spec.status.type);

export const winnowSearchAttributes = [WinnowRound, WinnowSubsetSize, WinnowDataset, WinnowStatus] as const;
