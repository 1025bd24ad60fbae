import { setMaxListeners } from 'node:events';
import { createPubSub, type PubSubEventTarget } from '@graphql-yoga/subscription';
import { AuditTopics, type AuditEventCreatedPayload } from '../audit/audit.topics';
import { MetricsTopics, type ContainerMetricsPayload } from '../metrics/metrics.topics';
import { LiveTopics, type ContainerChangedPayload, type NodeChangedPayload, type OperationProgressPayload } from '../live/live.topics';

/**
 * One typed pubsub for the process. In-process by default; the live-updates work adds a Redis
 * event target behind the same interface so that several replicas share events.
 */
export type Topics = {
  [AuditTopics.created]: [AuditEventCreatedPayload];
  [MetricsTopics.sampled]: [containerId: string, payload: ContainerMetricsPayload];
  [LiveTopics.containerChanged]: [ContainerChangedPayload];
  [LiveTopics.operationProgress]: [OperationProgressPayload];
  [LiveTopics.nodeChanged]: [NodeChangedPayload];
};

/** In-process unless given an event target (the Redis one from ./redis when REDIS_URL is set). */
/** In-process events: every subscriber of a topic is one listener on it, and thousands are expected, not a leak. */
function inProcessTarget(): PubSubEventTarget<Topics> {
  const target = new EventTarget();
  setMaxListeners(0, target);
  return target as unknown as PubSubEventTarget<Topics>;
}

export const createCorralPubSub = (eventTarget?: PubSubEventTarget<Topics>) => createPubSub<Topics>({ eventTarget: eventTarget ?? inProcessTarget() });
export type CorralPubSub = ReturnType<typeof createCorralPubSub>;
