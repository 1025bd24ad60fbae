/** Topics are keyed by name; payloads are plain JSON so that a Redis pubsub can carry them. */
export const AuditTopics = {
  created: 'AUDIT_EVENT_CREATED',
} as const;

export interface AuditEventCreatedPayload {
  id: string;
  accountPath: string | null;
}
