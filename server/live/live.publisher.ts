import type { DataSource } from 'typeorm';
import type { Logger } from '../app/logger';
import type { CorralPubSub } from '../app/pubsub';
import { Container } from '../containers/container.entity';
import { LiveTopics } from './live.topics';

/**
 * The few places that announce changes call this: the operation runner (claim, every progress
 * step, finish), AuditService after a mutation's transaction commits (its container or node
 * target), the node watch (LXD lifecycle events and reconcile) and the node health check.
 * Announcing never fails the work that announces; it only logs.
 */
export class LivePublisher {
  constructor(
    private readonly db: DataSource,
    private readonly pubsub: CorralPubSub,
    private readonly log: Logger,
  ) {}

  /** A container's row changed (status, node, limits, its operation…). */
  containerChanged(containerId: string | null | undefined, projectId?: string | null): void {
    if (!containerId) return;
    void this.projectOf(containerId, projectId)
      .then((project) => this.pubsub.publish(LiveTopics.containerChanged, { containerId, projectId: project }))
      .catch((error: unknown) => this.log.warn({ err: error, container: containerId }, 'announcing a container change failed'));
  }

  /** An operation's state or progress changed; its container changes with it. */
  operationChanged(operation: { id: string; containerId: string | null; nodeId?: string | null }, options: { finished?: boolean } = {}): void {
    this.pubsub.publish(LiveTopics.operationProgress, { operationId: operation.id });
    this.containerChanged(operation.containerId);
    // A finished operation may have changed its node's allocation or status (a drain, a create).
    if (options.finished && operation.nodeId) this.nodeChanged(operation.nodeId);
  }

  nodeChanged(nodeId: string | null | undefined): void {
    if (nodeId) this.pubsub.publish(LiveTopics.nodeChanged, { nodeId });
  }

  private async projectOf(containerId: string, known: string | null | undefined): Promise<string | null> {
    if (known) return known;
    const row = await this.db.manager.findOne(Container, { where: { id: containerId }, select: { id: true, projectId: true } });
    return row?.projectId ?? null;
  }
}
