import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import { Account, AccountKind } from '../accounts/account.entity';
import type { Actor } from '../app/actor';
import { CorralError, ErrorCode, notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { Cluster } from '../clusters/cluster.entity';
import { isId } from '../common/ids';
import { Container } from '../containers/container.entity';
import { Operation, OperationState } from '../operations/operation.entity';
import { ACTIVE_STATES, type OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { roomiest, type Footprint } from './capacity';
import { Node, NodeStatus, SETUP_STATUSES } from './node.entity';
import type { NodesService } from './nodes.service';

export const DRAIN = 'node.drain';
export const UNDRAIN = 'node.undrain';

/** The containers a drain moves, in the order it moves them. */
export const containersOn = (em: EntityManager, nodeId: string) => em.find(Container, { where: { nodeId }, order: { name: 'ASC', id: 'ASC' } });

/** The drain of a node that has not finished, if any. */
export const activeDrain = (em: EntityManager, nodeId: string) =>
  em
    .getRepository(Operation)
    .createQueryBuilder('operation')
    .where('operation.action = :action', { action: DRAIN })
    .andWhere('operation.nodeId = :nodeId', { nodeId })
    .andWhere('operation.state IN (:...active)', { active: ACTIVE_STATES })
    .getOne();

/**
 * Where each container would go, one after the other, by the placement rule (the READY node of
 * the cluster with room and the most free memory), counting the ones placed before it. Throws
 * CAPACITY_EXCEEDED naming the first container no node has room for.
 */
export function planMoves(containers: readonly Container[], targets: readonly Node[], cluster: Cluster, used: Map<string, Footprint>): Map<string, Node> {
  const plan = new Map<string, Node>();
  for (const container of containers) {
    const target = roomiest(targets, cluster, used, container);
    if (!target) {
      throw new CorralError(
        ErrorCode.CAPACITY_EXCEEDED,
        `no other READY node of cluster ${cluster.name} has room for container ${container.name} (${container.cpu} CPUs, ${Math.ceil(container.memoryBytes / 2 ** 20)} MiB of memory, a ${Math.ceil(container.diskBytes / 2 ** 20)} MiB disk)`,
        { containerId: container.id, container: container.name },
      );
    }
    const before = used.get(target.id)!;
    used.set(target.id, { cpu: before.cpu + container.cpu, memoryBytes: before.memoryBytes + container.memoryBytes, diskBytes: before.diskBytes + container.diskBytes });
    plan.set(container.id, target);
  }
  return plan;
}

/** Empties a node for maintenance (provider admins only), and returns it to service. */
export class DrainService {
  runner!: OperationRunner;

  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
    private readonly nodes: NodesService,
  ) {}

  /** The READY nodes of the node's cluster but itself, with what each holds now. */
  async targetsFor(em: EntityManager, node: Node): Promise<{ cluster: Cluster; targets: Node[]; used: Map<string, Footprint> }> {
    const cluster = await em.findOneByOrFail(Cluster, { id: node.clusterId });
    const targets = (await em.find(Node, { where: { clusterId: node.clusterId, status: NodeStatus.READY }, order: { id: 'ASC' } })).filter((n) => n.id !== node.id);
    return { cluster, targets, used: await this.nodes.allocation(targets.map((n) => n.id), em) };
  }

  /**
   * Marks the node DRAINING (nothing new is placed on it) and records one `node.drain` operation
   * that moves its containers away one at a time; the node ends in MAINTENANCE. Refused before
   * anything changes: an unknown node (NOT_FOUND), an offline one or a cluster without another
   * READY node (NODE_UNAVAILABLE), a drain already running (OPERATION_IN_PROGRESS), a container
   * that fits on no other node (CAPACITY_EXCEEDED, naming it). A node already in MAINTENANCE is
   * already drained: answered as it is, nothing recorded. A DRAINING node whose drain failed
   * may be drained again (a new operation picks up where the last one stopped).
   */
  async drain(actor: Actor, id: string, idempotencyKey?: string | null): Promise<Node> {
    const input = { nodeId: id };
    const { node, operation } = await this.audit.within({ actor, request: actor.request }, DRAIN, async (em, draft) => {
      draft.target('node', id);
      const provider = await em.findOneByOrFail(Account, { kind: AccountKind.PROVIDER });
      const replay = await this.operations.replayOf(em, provider, idempotencyKey, DRAIN, input);
      if (replay) {
        if (replay.state === OperationState.FAILED) throw new CorralError((replay.errorCode as ErrorCode) ?? ErrorCode.INTERNAL_SERVER_ERROR, replay.errorMessage ?? 'the drain failed');
        const node = await em.findOneBy(Node, { id: replay.nodeId! });
        if (!node) throw notFound('Node');
        return { node, operation: null };
      }
      const node = isId(id) ? await em.findOneBy(Node, { id }) : null;
      if (!node) throw notFound('Node');
      if (node.status === NodeStatus.MAINTENANCE) return { node, operation: null };
      if (node.status === NodeStatus.OFFLINE) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name} is offline: its containers cannot be moved until it answers again`);
      if (SETUP_STATUSES.includes(node.status)) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name} is not set up yet (${node.status}): there is nothing to drain`);
      // The status write comes first: on PostgreSQL it locks the node's row, so that two drains of one node take turns here.
      await em.update(Node, { id: node.id }, { status: NodeStatus.DRAINING });
      if (await activeDrain(em, node.id)) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `node ${node.name} is already being drained; follow its operation`);

      const containers = await containersOn(em, node.id);
      if (containers.length) {
        const { cluster, targets, used } = await this.targetsFor(em, node);
        if (targets.length === 0) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `no other node of cluster ${cluster.name} is READY to take the containers of ${node.name}`);
        planMoves(containers, targets, cluster, used);
      }
      const recorded = await this.operations.record(em, actor, { account: provider, action: DRAIN, containerId: null, nodeId: node.id, input, idempotencyKey });
      node.status = NodeStatus.DRAINING;
      return { node, operation: recorded };
    });
    if (operation) this.runner.kick(operation.id);
    return node;
  }

  /**
   * Puts a DRAINING or MAINTENANCE node back in service (READY; the next health check says
   * OFFLINE if it does not answer). Refused while a drain runs (OPERATION_IN_PROGRESS). A node
   * already in service is answered as it is.
   */
  undrain(actor: Actor, id: string): Promise<Node> {
    return this.audit.within({ actor, request: actor.request }, UNDRAIN, async (em, draft) => {
      draft.target('node', id);
      const node = isId(id) ? await em.findOneBy(Node, { id }) : null;
      if (!node) throw notFound('Node');
      if (node.status !== NodeStatus.DRAINING && node.status !== NodeStatus.MAINTENANCE) return node;
      await em.update(Node, { id: node.id }, { status: NodeStatus.READY });
      if (await activeDrain(em, node.id)) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `node ${node.name} is being drained; wait for the drain to finish`);
      node.status = NodeStatus.READY;
      return node;
    });
  }

  /** The newest operation on the node itself (containerId null), for `Node.operation`. */
  latestFor(nodeId: string): Promise<Operation | null> {
    return this.db.manager.findOne(Operation, { where: { nodeId, containerId: IsNull() }, order: { id: 'DESC' } });
  }
}
