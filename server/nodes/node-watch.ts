import type { DataSource } from 'typeorm';
import type { Logger } from '../app/logger';
import type { LivePublisher } from '../live/live.publisher';
import { statusFromLxd } from '../containers/container.operations';
import { Container, ContainerStatus } from '../containers/container.entity';
import { Operation, OperationState } from '../operations/operation.entity';
import { projectIdOfLxdProject, type LifecycleEvent, type NodeGateway } from './node-gateway';
import { Node, NodeStatus, SETUP_STATUSES } from './node.entity';
import type { NodesService } from './nodes.service';

/** Lifecycle events that settle a container's status by themselves. */
const statusOfEvent: Record<string, ContainerStatus> = {
  'instance-started': ContainerStatus.RUNNING,
  'instance-restarted': ContainerStatus.RUNNING,
  'instance-resumed': ContainerStatus.RUNNING,
  'instance-stopped': ContainerStatus.STOPPED,
  'instance-shutdown': ContainerStatus.STOPPED,
  'instance-paused': ContainerStatus.STOPPED,
};

/**
 * Keeps container rows true without a user ever waiting on LXD: one event stream per node
 * (reconnected with backoff), a periodic reconcile that catches whatever events missed, and
 * node health checks. Containers with an operation in flight are left to that operation.
 */
export class NodeWatch {
  private readonly streams = new Map<string, { close(): void }>();
  private readonly backoff = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  /** Announces every row this watch corrects to live subscribers (set by createServices). */
  live: LivePublisher | null = null;

  constructor(
    private readonly db: DataSource,
    private readonly gateway: NodeGateway,
    private readonly nodes: NodesService,
    private readonly log: Logger,
    private readonly intervals: { reconcileMs: number; healthMs: number },
  ) {}

  start(): void {
    this.stopped = false;
    const every = (ms: number, work: () => Promise<void>) => {
      const timer = setInterval(() => void work().catch((error: unknown) => this.log.warn({ err: error }, 'node watch step failed')), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.intervals.healthMs, async () => {
      await this.nodes.checkHealth();
      await this.connectAll();
    });
    every(this.intervals.reconcileMs, () => this.reconcileAll());
    void this.connectAll().catch((error: unknown) => this.log.warn({ err: error }, 'opening node event streams failed'));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
  }

  /** Opens the event stream of every READY node that has none. */
  async connectAll(): Promise<void> {
    const nodes = await this.db.manager.find(Node);
    for (const node of nodes) {
      if (this.stopped || this.streams.has(node.id) || node.status === NodeStatus.OFFLINE || SETUP_STATUSES.includes(node.status)) continue;
      this.streams.set(node.id, { close: () => undefined });
      try {
        const stream = await this.gateway.watch(
          node,
          (event) => void this.onEvent(node, event).catch((error: unknown) => this.log.warn({ err: error }, 'applying an LXD event failed')),
          (error) => this.onClosed(node, error),
        );
        this.streams.set(node.id, stream);
        this.backoff.delete(node.id);
      } catch (error) {
        this.onClosed(node, error);
      }
    }
  }

  private onClosed(node: Node, error?: unknown) {
    this.streams.delete(node.id);
    if (this.stopped) return;
    const delay = Math.min(30_000, (this.backoff.get(node.id) ?? 500) * 2);
    this.backoff.set(node.id, delay);
    this.log.warn({ node: node.name, err: error, retryInMs: delay }, 'node event stream closed');
    setTimeout(() => {
      void this.connectAll().then(() => this.reconcile(node)).catch(() => undefined);
    }, delay).unref();
  }

  private async onEvent(node: Node, event: LifecycleEvent) {
    const projectId = projectIdOfLxdProject(event.project);
    if (!projectId) return;
    const container = await this.db.manager.findOneBy(Container, { projectId, name: event.instance, nodeId: node.id });
    if (!container || (await this.busy(container.id))) return;
    if (event.action === 'instance-deleted') {
      await this.db.manager.update(Container, { id: container.id }, { status: ContainerStatus.ERROR, statusReason: 'deleted on the node outside Corral' });
    } else if (statusOfEvent[event.action] && (statusOfEvent[event.action] !== container.status || container.statusReason !== null)) {
      await this.db.manager.update(Container, { id: container.id }, { status: statusOfEvent[event.action], statusReason: null });
    } else return;
    this.live?.containerChanged(container.id, container.projectId);
  }

  private busy(containerId: string): Promise<boolean> {
    return this.db
      .getRepository(Operation)
      .createQueryBuilder('operation')
      .where('operation.containerId = :containerId', { containerId })
      .andWhere('operation.state IN (:...active)', { active: [OperationState.PENDING, OperationState.RUNNING] })
      .getExists();
  }

  async reconcileAll(): Promise<void> {
    for (const node of await this.db.manager.find(Node)) {
      if (node.status !== NodeStatus.OFFLINE && !SETUP_STATUSES.includes(node.status)) await this.reconcile(node).catch((error: unknown) => this.log.warn({ node: node.name, err: error }, 'reconcile failed'));
    }
  }

  /** Compares a node's instances with the rows of its containers and corrects the rows. */
  async reconcile(node: Node): Promise<void> {
    const instances = await this.gateway.listInstances(node);
    const byKey = new Map(instances.map((i) => [`${i.project}/${i.name}`, i]));
    for (const container of await this.db.manager.find(Container, { where: { nodeId: node.id } })) {
      if (container.status === ContainerStatus.CREATING || (await this.busy(container.id))) continue;
      const instance = byKey.get(`corral-${container.projectId.replaceAll('-', '')}/${container.name}`);
      const next = instance ? { status: statusFromLxd(instance.status), statusReason: null } : { status: ContainerStatus.ERROR, statusReason: 'missing on its node' };
      if (next.status !== container.status || next.statusReason !== container.statusReason) {
        await this.db.manager.update(Container, { id: container.id }, next);
        this.live?.containerChanged(container.id, container.projectId);
      }
    }
  }
}
