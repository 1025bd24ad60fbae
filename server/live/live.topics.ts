/**
 * Live topics: a change is announced by the IDs it concerns, never by the object itself. Each
 * subscriber re-reads the object under its own (re-checked) access, so a payload can be carried
 * by a Redis pubsub as plain JSON and never leaks another tenant's data.
 */
export const LiveTopics = {
  containerChanged: 'CONTAINER_CHANGED',
  operationProgress: 'OPERATION_PROGRESS',
  nodeChanged: 'NODE_CHANGED',
} as const;

export interface ContainerChangedPayload {
  containerId: string;
  /** For `containerChanged(projectId)`; null when the row was already gone (a finished delete). */
  projectId: string | null;
}

export interface OperationProgressPayload {
  operationId: string;
}

export interface NodeChangedPayload {
  nodeId: string;
}
