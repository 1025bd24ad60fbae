import { replayedContainer } from './replay';
import { visibleContainer } from '../accounts/access';
import type { Actor } from '../app/actor';
import { badInput, CorralError, ErrorCode, notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { Cluster } from '../clusters/cluster.entity';
import { isId } from '../common/ids';
import { Node, NodeStatus } from '../nodes/node.entity';
import type { NodesService } from '../nodes/nodes.service';
import type { OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { shortOfRoom } from '../nodes/capacity';
import { Container, ContainerStatus } from './container.entity';
import { MigrationMode } from './migration-mode';

export const MIGRATE = 'container.migrate';

/** Statuses in which a container is busy with a lifecycle change of its own. */
const BUSY = [ContainerStatus.CREATING, ContainerStatus.DELETING, ContainerStatus.STARTING, ContainerStatus.STOPPING];

/** Moves containers between the nodes of a cluster (cold: stop, move, start). Provider admins only. */
export class MigrationService {
  runner!: OperationRunner;

  constructor(
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
    private readonly nodes: NodesService,
  ) {}

  /**
   * Records a `container.migrate` operation and runs it in the background; returns the container
   * at once (follow `operation`). Every refusal comes before anything is recorded: the same
   * node, a node of another cluster (BAD_USER_INPUT), an unknown node (NOT_FOUND), a node that is
   * not READY (NODE_UNAVAILABLE), one without room (CAPACITY_EXCEEDED), live migration on nodes
   * without CRIU (MIGRATION_UNSUPPORTED).
   */
  async migrate(actor: Actor, id: string, targetNodeId: string, live: boolean, idempotencyKey?: string | null, mode: MigrationMode = MigrationMode.PULL): Promise<Container> {
    // Pull is the default and hashes as before `mode` existed, so that earlier idempotency keys replay.
    const input = mode === MigrationMode.PUSH ? { id, targetNodeId, live, mode } : { id, targetNodeId, live };
    const { container, operation } = await this.audit.within({ actor, request: actor.request }, MIGRATE, async (em, draft) => {
      draft.target('container', id);
      const found = await visibleContainer(em, actor, id);
      const account = found.project.account;
      draft.concerns(account);
      const replay = await this.operations.replayOf(em, account, idempotencyKey, MIGRATE, input);
      if (replay) return { container: await replayedContainer(em, replay), operation: null };

      const target = isId(targetNodeId) ? await em.findOneBy(Node, { id: targetNodeId }) : null;
      if (!target) throw notFound('Node');
      const source = await em.findOneByOrFail(Node, { id: found.nodeId });
      if (target.id === source.id) throw badInput(`the container is already on node ${source.name}`, 'targetNodeId');
      if (target.clusterId !== source.clusterId) throw badInput(`node ${target.name} is in another cluster; containers move only within their cluster`, 'targetNodeId');
      if (live) {
        const without = [source, target].filter((n) => !n.capabilities?.liveMigration).map((n) => n.name);
        throw new CorralError(
          ErrorCode.MIGRATION_UNSUPPORTED,
          without.length
            ? `live migration needs CRIU on both nodes, and ${without.join(' and ')} cannot do it (see Node.capabilities.liveMigration); stop the container or migrate without live`
            : 'Corral does not carry out live migrations; migrate without live (the container is stopped, moved and started again)',
          { nodes: without },
        );
      }
      if (BUSY.includes(found.status)) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the container is ${found.status.toLowerCase()}`);
      if (target.status !== NodeStatus.READY) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${target.name} is ${target.status.toLowerCase()}`, { field: 'targetNodeId' });
      if (source.status === NodeStatus.OFFLINE) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${source.name}, where the container is, is offline`);

      const cluster = await em.findOneByOrFail(Cluster, { id: target.clusterId });
      const short = shortOfRoom(target, cluster, (await this.nodes.allocation([target.id], em)).get(target.id)!, found);
      if (short.length) throw new CorralError(ErrorCode.CAPACITY_EXCEEDED, `node ${target.name} has no room for ${short.join(', ')}`, { field: 'targetNodeId' });

      const recorded = await this.operations.record(em, actor, { account, action: MIGRATE, containerId: found.id, nodeId: found.nodeId, input, idempotencyKey });
      return { container: found as Container, operation: recorded };
    });
    if (operation) this.runner.kick(operation.id);
    return container;
  }
}

