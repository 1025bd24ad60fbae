import { In } from 'typeorm';
import { replayedContainer } from './replay';
import { visibleContainer } from '../accounts/access';
import type { Actor } from '../app/actor';
import { badInput, conflict, CorralError, ErrorCode, forbidden, notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { Permission } from '../auth/permissions';
import { Cluster } from '../clusters/cluster.entity';
import { isId, newId } from '../common/ids';
import type { LicencesService } from '../licences/licences.service';
import { Node, NodeStatus } from '../nodes/node.entity';
import type { NodesService } from '../nodes/nodes.service';
import { Operation } from '../operations/operation.entity';
import { ACTIVE_STATES, type OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import type { CloneContainerInput } from './clone.inputs';
import { Container, ContainerStatus } from './container.entity';
import { placeContainer } from './placement';

export const CLONE = 'container.clone';

/** Statuses in which a container is busy with a lifecycle change of its own. */
const BUSY = [ContainerStatus.CREATING, ContainerStatus.DELETING, ContainerStatus.STARTING, ContainerStatus.STOPPING];

/** Copies a container, with its data and resources, as a new container of the same project. */
export class CloneService {
  runner!: OperationRunner;

  constructor(
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
    private readonly nodes: NodesService,
    private readonly licences: LicencesService,
  ) {}

  /**
   * Records the clone (CREATING, the source's resources) and its `container.clone` operation, and
   * runs it in the background; returns the clone at once (follow `operation`). The same refusals
   * as createContainer, before anything is recorded: a taken name (CONFLICT), the licence
   * (LICENCE_LIMIT), a node that is not READY (NODE_UNAVAILABLE) or has no room
   * (CAPACITY_EXCEEDED); besides, a source that is busy (OPERATION_IN_PROGRESS) and a target node
   * in another cluster (BAD_USER_INPUT). Only provider admins name the node.
   */
  async clone(actor: Actor, input: CloneContainerInput, idempotencyKey?: string | null): Promise<Container> {
    const request = { containerId: input.containerId, name: input.name, targetNodeId: input.targetNodeId ?? null };
    const { container, operation } = await this.audit.within({ actor, request: actor.request }, CLONE, async (em, draft) => {
      draft.target('container', null);
      const source = await visibleContainer(em, actor, input.containerId);
      const account = source.project.account;
      draft.concerns(account);
      const replay = await this.operations.replayOf(em, account, idempotencyKey, CLONE, request);
      if (replay) return { container: await replayedContainer(em, replay), operation: null };

      if (input.targetNodeId && !actor.permissions.has(Permission.INFRASTRUCTURE_WRITE)) throw forbidden('only provider admins choose the node');
      if (await em.existsBy(Container, { projectId: source.projectId, name: input.name })) {
        throw conflict(`a container named "${input.name}" already exists in this project`, 'name');
      }
      if (BUSY.includes(source.status)) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the container is ${source.status.toLowerCase()}`);
      if (await em.existsBy(Operation, { containerId: source.id, state: In(ACTIVE_STATES) })) {
        throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, 'another operation is running on this container; try again when it has finished');
      }
      if (source.status !== ContainerStatus.RUNNING && source.status !== ContainerStatus.STOPPED) {
        throw conflict(`the container is ${source.status.toLowerCase()}; only a running or stopped container can be cloned`);
      }
      const sourceNode = await em.findOneByOrFail(Node, { id: source.nodeId });
      if (sourceNode.status === NodeStatus.OFFLINE) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${sourceNode.name}, where the container is, is offline`);
      let candidate = sourceNode;
      if (input.targetNodeId) {
        const named = isId(input.targetNodeId) ? await em.findOneBy(Node, { id: input.targetNodeId }) : null;
        if (!named) throw notFound('Node');
        if (named.clusterId !== sourceNode.clusterId) throw badInput(`node ${named.name} is in another cluster; a clone stays in its source's cluster`, 'targetNodeId');
        candidate = named;
      }
      await this.licences.checkRoomForContainer(em);
      const cluster = await em.findOneByOrFail(Cluster, { id: sourceNode.clusterId });
      const spec = { cpu: source.cpu, memoryBytes: source.memoryBytes, diskBytes: source.diskBytes };
      const node = await placeContainer(this.nodes, cluster, [candidate], spec, { named: true, field: input.targetNodeId ? 'targetNodeId' : 'containerId' }, em);

      const created = em.create(Container, {
        id: newId(),
        projectId: source.projectId,
        nodeId: node.id,
        name: input.name,
        imageId: source.imageId,
        ...spec,
        cpuLimitPercent: source.cpuLimitPercent,
        cpuWeight: source.cpuWeight,
        status: ContainerStatus.CREATING,
        statusReason: null,
      });
      await em.insert(Container, created);
      draft.target('container', created.id);
      const recorded = await this.operations.record(em, actor, { account, action: CLONE, containerId: created.id, nodeId: node.id, input: request, idempotencyKey });
      return { container: created, operation: recorded };
    });
    if (operation) this.runner.kick(operation.id);
    return container;
  }
}
