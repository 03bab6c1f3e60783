/**
 * Registers winnow's custom search attributes on a namespace, adding only the
 * missing ones. Needed at every start: with a persistent database the dev
 * server's --search-attribute flag only applies when the namespace is created.
 */
import { type Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { searchAttributeSpecs } from '../contracts/search-attributes';

const winnowSearchAttributes = Object.values(searchAttributeSpecs);

const IndexedValueType = temporal.api.enums.v1.IndexedValueType;

const indexedTypeOf: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  [SearchAttributeType.INT]: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  [SearchAttributeType.KEYWORD]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.TEXT]: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  [SearchAttributeType.BOOL]: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  [SearchAttributeType.DOUBLE]: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  [SearchAttributeType.DATETIME]: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

/** Returns the names it added (empty when all were there). */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const have = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = winnowSearchAttributes.filter((key) => !have.has(key.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedTypeOf[key.type]])),
  });
  return missing.map((key) => key.name);
}
