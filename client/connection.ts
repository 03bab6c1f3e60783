/** A Temporal client from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS / API key). */
import { Client, Connection } from '@temporalio/client';
import { connectionSettings, type ConnectionSettings } from '../infra/env';

export async function connectClient(settings: ConnectionSettings = connectionSettings()): Promise<Client> {
  const connection = await Connection.connect({
    address: settings.address,
    tls: settings.tls,
    apiKey: settings.apiKey,
  });
  return new Client({ connection, namespace: settings.namespace });
}

/** Link to one workflow in the Temporal web UI. */
export function workflowUiUrl(uiBase: string, namespace: string, workflowId: string): string {
  return `${uiBase}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
