import type { DataSource, EntityManager } from 'typeorm';
import { replayedContainer } from './replay';
import { visibleContainer, visibleProject, whereAccountInScope } from '../accounts/access';
import type { Actor } from '../app/actor';
import { badInput, conflict, CorralError, ErrorCode, forbidden, notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { Permission } from '../auth/permissions';
import { Cluster } from '../clusters/cluster.entity';
import { insertUnique } from '../common/db-errors';
import { isId, newId } from '../common/ids';
import { paginate, type Connection } from '../common/pagination';
import { Image } from '../images/image.entity';
import type { LicencesService } from '../licences/licences.service';
import { Node, NodeStatus } from '../nodes/node.entity';
import type { NodesService } from '../nodes/nodes.service';
import type { OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { Container, ContainerStatus } from './container.entity';
import type { ContainersArgs, CreateContainerInput } from './containers.inputs';
import { placeContainer } from './placement';
import { cloudInitConfig } from './cloud-init';
import { allocateForContainer } from '../network/addresses.service';
import type { IpamService } from '../network/ipam.service';

const MiB = 1024 * 1024;

export type PowerAction = 'start' | 'stop' | 'restart';

/** The status a container shows while an operation of each kind runs. */
const transient: Record<string, ContainerStatus> = {
  'container.start': ContainerStatus.STARTING,
  'container.stop': ContainerStatus.STOPPING,
  'container.restart': ContainerStatus.STARTING,
  'container.delete': ContainerStatus.DELETING,
};

export class ContainersService {
  runner!: OperationRunner;
  /** Allocates the addresses a create asks for (network/addresses.service.ts). */
  ipam!: Pick<IpamService, 'allocateAddress'>;

  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
    private readonly nodes: NodesService,
    private readonly licences: LicencesService,
  ) {}

  get(actor: Actor, id: string): Promise<Container> {
    return visibleContainer(this.db.manager, actor, id);
  }

  async list(actor: Actor, args: ContainersArgs): Promise<Connection<Container>> {
    const qb = this.db.getRepository(Container).createQueryBuilder('container').innerJoin('container.project', 'project').innerJoin('project.account', 'account');
    whereAccountInScope(qb, actor, 'account');
    if (args.projectId !== undefined && args.projectId !== null) {
      const project = await visibleProject(this.db.manager, actor, args.projectId);
      qb.andWhere('container.projectId = :projectId', { projectId: project.id });
    }
    return paginate(qb, args);
  }

  /**
   * Records the container (CREATING) and its create operation, then runs the operation in the
   * background: the answer comes back at once with `operation { state progress }`.
   */
  async create(actor: Actor, input: CreateContainerInput, idempotencyKey?: string | null): Promise<Container> {
    const { container, operation } = await this.audit.within({ actor, request: actor.request }, 'container.create', async (em, draft) => {
      const project = await visibleProject(em, actor, input.projectId);
      draft.concerns(project.account).target('container', null);
      const replay = await this.operations.replayOf(em, project.account, idempotencyKey, 'container.create', input);
      if (replay) return { container: await replayedContainer(em, replay), operation: null };

      // Checked here, before anything is recorded; the runner renders it again from the operation.
      cloudInitConfig(input.cloudInit);
      const image = isId(input.imageId) ? await em.findOneBy(Image, { id: input.imageId }) : null;
      if (!image) throw badInput('no such image', 'imageId');
      if (await em.existsBy(Container, { projectId: project.id, name: input.name })) {
        throw conflict(`a container named "${input.name}" already exists in this project`, 'name');
      }
      await this.licences.checkRoomForContainer(em);
      const spec = { cpu: input.cpu, memoryBytes: input.memoryMiB * MiB, diskBytes: input.diskMiB * MiB };
      const node = await this.place(em, actor, input, spec);
      const created = em.create(Container, {
        id: newId(),
        projectId: project.id,
        nodeId: node.id,
        name: input.name,
        imageId: image.id,
        ...spec,
        status: ContainerStatus.CREATING,
        statusReason: null,
      });
      // Two replicas can both pass the check above; the unique index decides, and the loser gets CONFLICT.
      await insertUnique(em, Container, created, 'name', `a container named "${input.name}" already exists in this project`);
      draft.target('container', created.id);
      for (const request of input.addresses ?? []) await allocateForContainer(em, this.ipam, created.id, node.clusterId, request);
      const recorded = await this.operations.record(em, actor, {
        account: project.account,
        action: 'container.create',
        containerId: created.id,
        nodeId: node.id,
        input: { ...input },
        idempotencyKey,
      });
      return { container: created, operation: recorded };
    });
    if (operation) this.runner.kick(operation.id);
    return container;
  }

  /** start, stop (clean or forced) and restart. */
  power(actor: Actor, id: string, action: PowerAction, options: { force?: boolean; idempotencyKey?: string | null } = {}): Promise<Container> {
    return this.containerOperation(actor, id, `container.${action}`, { id, force: !!options.force }, options.idempotencyKey);
  }

  delete(actor: Actor, id: string, idempotencyKey?: string | null): Promise<Container> {
    return this.containerOperation(actor, id, 'container.delete', { id }, idempotencyKey);
  }

  private async containerOperation(actor: Actor, id: string, action: string, input: Record<string, unknown>, idempotencyKey?: string | null): Promise<Container> {
    const { container, operation } = await this.audit.within({ actor, request: actor.request }, action, async (em, draft) => {
      draft.target('container', id);
      const found = await visibleContainer(em, actor, id);
      draft.concerns(found.project.account);
      const replay = await this.operations.replayOf(em, found.project.account, idempotencyKey, action, input);
      if (replay) return { container: await replayedContainer(em, replay), operation: null };
      if (found.status === ContainerStatus.CREATING || found.status === ContainerStatus.DELETING) {
        throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the container is ${found.status.toLowerCase()}`);
      }
      const node = await em.findOneByOrFail(Node, { id: found.nodeId });
      if (node.status === NodeStatus.OFFLINE) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name} is offline`);
      const recorded = await this.operations.record(em, actor, { account: found.project.account, action, containerId: found.id, nodeId: found.nodeId, input, idempotencyKey });
      await em.update(Container, { id: found.id }, { status: transient[action]! });
      found.status = transient[action]!;
      return { container: found as Container, operation: recorded };
    });
    if (operation) this.runner.kick(operation.id);
    return container;
  }


  /**
   * Chooses the node: the one named (provider admins only), or the READY node of the cluster
   * with the most free memory that fits the container within the cluster's overcommit.
   */
  private async place(em: EntityManager, actor: Actor, input: CreateContainerInput, spec: { cpu: number; memoryBytes: number; diskBytes: number }): Promise<Node> {
    let cluster: Cluster | null;
    if (input.clusterId) {
      cluster = isId(input.clusterId) ? await em.findOneBy(Cluster, { id: input.clusterId }) : null;
      if (!cluster) throw notFound('Cluster');
    } else {
      const clusters = await em.find(Cluster, { take: 2 });
      if (clusters.length === 0) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, 'there is no cluster to place the container in');
      if (clusters.length > 1) throw badInput('there are several clusters: name one', 'clusterId');
      cluster = clusters[0]!;
    }
    let candidates = await em.find(Node, { where: { clusterId: cluster.id } });
    if (input.nodeId) {
      if (!actor.permissions.has(Permission.INFRASTRUCTURE_WRITE)) throw forbidden('only provider admins choose the node');
      candidates = candidates.filter((n) => n.id === input.nodeId);
      if (candidates.length === 0) throw notFound('Node');
    }
    return placeContainer(this.nodes, cluster, candidates, spec, { named: !!input.nodeId, field: input.nodeId ? 'nodeId' : 'cpu' }, em);
  }

}
