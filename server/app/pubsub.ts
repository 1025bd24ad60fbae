import { createPubSub } from '@graphql-yoga/subscription';
import { AuditTopics, type AuditEventCreatedPayload } from '../audit/audit.topics';

/**
 * One typed pubsub for the process. In-process by default; the live-updates work adds a Redis
 * event target behind the same interface so that several replicas share events.
 */
export type Topics = {
  [AuditTopics.created]: [AuditEventCreatedPayload];
};

export const createCorralPubSub = () => createPubSub<Topics>();
export type CorralPubSub = ReturnType<typeof createCorralPubSub>;
