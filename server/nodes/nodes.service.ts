import { In, Not, type DataSource, type EntityManager } from 'typeorm';
import type { Actor } from '../app/actor';
import { badInput, conflict, CorralError, ErrorCode, notFound } from '../app/errors';
import type { Logger } from '../app/logger';
import type { AuditService } from '../audit/audit.service';
import { Cluster } from '../clusters/cluster.entity';
import { isId, newId } from '../common/ids';
import { paginate, type Connection } from '../common/pagination';
import { Container } from '../containers/container.entity';
import type { LicencesService } from '../licences/licences.service';
import { fingerprintOf } from '../lxd/identity';
import type { LivePublisher } from '../live/live.publisher';
import type { NodeCapabilities } from './node-capabilities';
import type { NodeGateway } from './node-gateway';
import { Node, NodeStatus, OPERATOR_STATUSES, SETUP_STATUSES } from './node.entity';
import type { AddNodeInput, NodesArgs } from './nodes.inputs';

export interface NodeAllocation {
  containers: number;
  cpu: number;
  memoryBytes: number;
  diskBytes: number;
}

export class NodesService {
  /** Reads what a node can enforce (set in services.ts); the health check stores it on the node. */
  detectCapabilities?: (node: Node, storagePool: string) => Promise<NodeCapabilities>;
  /** Told when a health check changes a node's status, for live subscribers (set by createServices). */
  live: LivePublisher | null = null;
  /** Called when a node answers again after being OFFLINE (wired to the firewall's reapply); must not throw. */
  onBackOnline: ((nodeId: string) => Promise<void>) | null = null;

  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly gateway: NodeGateway,
    private readonly licences: LicencesService,
    private readonly log: Logger,
  ) {}

  async get(_actor: Actor, id: string): Promise<Node> {
    const node = isId(id) ? await this.db.manager.findOneBy(Node, { id }) : null;
    if (!node) throw notFound('Node');
    return node;
  }

  async list(_actor: Actor, args: NodesArgs): Promise<Connection<Node>> {
    const qb = this.db.getRepository(Node).createQueryBuilder('node');
    if (args.clusterId) qb.where('node.clusterId = :clusterId', { clusterId: args.clusterId });
    return paginate(qb, args);
  }

  ofCluster(clusterId: string): Promise<Node[]> {
    return this.db.manager.find(Node, { where: { clusterId }, order: { id: 'ASC' } });
  }

  /**
   * What containers take on a node now (rows, whatever their state: a stopped container keeps its
   * allocation). Given the manager of a transaction that is about to put something on these nodes
   * (a create, a clone, a move, a bigger limit), it reads within that transaction and, on
   * PostgreSQL, first takes a lock per node held until the transaction ends, so that two such
   * transactions cannot both see the same room and overcommit the node. (SQLite transactions
   * take turns anyway.) Nodes are locked in ID order, so two callers never wait on each other.
   */
  async allocation(nodeIds: readonly string[], em?: EntityManager): Promise<Map<string, NodeAllocation>> {
    if (nodeIds.length === 0) return new Map();
    if (em?.connection.options.type === 'postgres') {
      for (const id of [...new Set(nodeIds)].sort()) await em.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`corral.node-room:${id}`]);
    }
    const rows: { nodeId: string; containers: string; cpu: string; memory: string; disk: string }[] = await (em ?? this.db.manager)
      .getRepository(Container)
      .createQueryBuilder('c')
      .select('c.nodeId', 'nodeId')
      .addSelect('COUNT(*)', 'containers')
      .addSelect('COALESCE(SUM(c.cpu), 0)', 'cpu')
      .addSelect('COALESCE(SUM(c.memoryBytes), 0)', 'memory')
      .addSelect('COALESCE(SUM(c.diskBytes), 0)', 'disk')
      .where('c.nodeId IN (:...ids)', { ids: [...nodeIds] })
      .groupBy('c.nodeId')
      .getRawMany();
    const result = new Map<string, NodeAllocation>(nodeIds.map((id) => [id, { containers: 0, cpu: 0, memoryBytes: 0, diskBytes: 0 }]));
    for (const r of rows) result.set(r.nodeId, { containers: Number(r.containers), cpu: Number(r.cpu), memoryBytes: Number(r.memory), diskBytes: Number(r.disk) });
    return result;
  }

  /**
   * Joins an LXD that already runs: LXD comes to trust Corral's certificate (trust password or
   * token), Corral pins the node's, reads its capacity, and the node is READY. Nothing is
   * recorded when any step fails.
   */
  add(actor: Actor, input: AddNodeInput): Promise<Node> {
    return this.audit.within({ actor, request: actor.request }, 'node.add', async (em, draft) => {
      draft.target('node', null);
      const { cluster, node } = await this.newNode(em, { clusterId: input.clusterId, name: input.name, url: input.url.replace(/\/$/, ''), status: NodeStatus.READY }, {
        message: 'a node with this address is already connected',
        field: 'url',
      });
      node.lastSeenAt = new Date();
      await this.enrolInto(node, cluster.storagePool, { secret: input.secret });
      await em.insert(Node, node);
      draft.target('node', node.id);
      return node;
    });
  }

  /**
   * A node row of a cluster, not inserted yet, after the checks every way of adding a node shares:
   * the cluster exists, the licence has room, no node has this LXD address (`urlTaken` says how
   * to answer that), and the name is free in the cluster.
   */
  async newNode(
    em: EntityManager,
    input: { clusterId: string; name: string; url: string; status: NodeStatus },
    urlTaken: { message: string; field: string },
  ): Promise<{ cluster: Cluster; node: Node }> {
    const cluster = isId(input.clusterId) ? await em.findOneBy(Cluster, { id: input.clusterId }) : null;
    if (!cluster) throw notFound('Cluster');
    await this.licences.checkRoomForNode(em);
    if (await em.existsBy(Node, { url: input.url })) throw conflict(urlTaken.message, urlTaken.field);
    if (await em.existsBy(Node, { clusterId: cluster.id, name: input.name })) throw conflict(`a node named "${input.name}" is already in this cluster`, 'name');
    const node = em.create(Node, {
      id: newId(),
      clusterId: cluster.id,
      name: input.name,
      url: input.url,
      fingerprint: '',
      serverCertificate: '',
      status: input.status,
      cpuThreads: 0,
      memoryBytes: 0,
      diskBytes: 0,
      lastError: null,
      lastSeenAt: null,
      capabilities: null,
    });
    return { cluster, node };
  }

  /**
   * Pins the LXD at `node.url` on `node` and reads its capacity and capabilities into it, one
   * path for both ways a node is joined:
   * - `{ secret }` (addNode): LXD comes to trust Corral's certificate through its trust password
   *   or a token, and the certificate it presents is pinned;
   * - `{ serverCertificate }` (connectNode): the node playbook made LXD trust Corral's
   *   certificate, and its server certificate was read over the pinned SSH connection, so there
   *   is no trust on first use over TLS.
   * Either way LXD must then answer as trusting Corral through the pinned certificate, and offer
   * the cluster's storage pool. Writes nothing: the caller stores the node.
   * @throws NODE_UNAVAILABLE (not joined, not trusted), BAD_USER_INPUT (no such storage pool)
   */
  async enrolInto(node: Node, storagePool: string, proof: { secret: string } | { serverCertificate: string }): Promise<void> {
    let pinned: { serverCertificate: string; fingerprint: string };
    if ('secret' in proof) {
      try {
        pinned = await this.gateway.enrol(node.url, proof.secret);
      } catch (error) {
        throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `could not join the node: ${(error as Error).message}`, { field: 'url' });
      }
    } else {
      try {
        pinned = { serverCertificate: proof.serverCertificate, fingerprint: fingerprintOf(proof.serverCertificate) };
      } catch (error) {
        throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `the node's LXD server certificate cannot be read: ${(error as Error).message}`);
      }
    }
    node.fingerprint = pinned.fingerprint;
    node.serverCertificate = pinned.serverCertificate;
    this.gateway.forget(node.id);
    let trusted: boolean;
    try {
      trusted = await this.gateway.trusted(node);
    } catch (error) {
      this.gateway.forget(node.id);
      throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `LXD at ${node.url} does not answer through its pinned certificate: ${(error as Error).message}`, { field: 'url' });
    }
    if (!trusted) {
      this.gateway.forget(node.id);
      throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `LXD at ${node.url} does not trust Corral's client certificate`, { field: 'url' });
    }
    try {
      Object.assign(node, await this.gateway.capacity(node, storagePool));
    } catch (error) {
      this.gateway.forget(node.id);
      throw badInput(`the node does not offer storage pool "${storagePool}": ${(error as Error).message}`, 'clusterId');
    }
    node.capabilities = await this.capabilitiesOf(node, storagePool);
  }

  /** Corral's LXD client certificate (PEM), for the node playbook to make LXD trust it. */
  clientCertificate(): Promise<string> {
    return this.gateway.clientCertificate();
  }

  /** A capability read that fails keeps the last known capabilities rather than failing the health check. */
  private async capabilitiesOf(node: Node, storagePool: string): Promise<NodeCapabilities | null> {
    if (!this.detectCapabilities) return null;
    try {
      return await this.detectCapabilities(node, storagePool);
    } catch (error) {
      this.log.warn({ node: node.name, err: error }, 'could not read the node capabilities');
      return null;
    }
  }

  /** One health check of every node: READY when LXD answers, OFFLINE when not; DRAINING and MAINTENANCE (an operator's choice) stay. */
  async checkHealth(): Promise<void> {
    const nodes = (await this.db.manager.find(Node, { relations: { cluster: true } })).filter((node) => !SETUP_STATUSES.includes(node.status));
    await Promise.all(
      nodes.map(async (node) => {
        try {
          const capacity = await this.gateway.capacity(node, node.cluster!.storagePool);
          const capabilities = await this.capabilitiesOf(node, node.cluster!.storagePool);
          await this.db.manager.update(Node, { id: node.id }, { ...capacity, lastError: null, lastSeenAt: new Date(), ...(capabilities ? { capabilities } : {}) });
          // Conditional, so that a drain that began since the read is not overwritten.
          await this.db.manager.update(Node, { id: node.id, status: Not(In(OPERATOR_STATUSES)) }, { status: NodeStatus.READY });
          if (node.status !== NodeStatus.READY && !OPERATOR_STATUSES.includes(node.status)) {
            this.live?.nodeChanged(node.id);
            // Back from OFFLINE: it may have rebooted, which loses what Corral keeps on it outside LXD (nftables).
            if (node.status === NodeStatus.OFFLINE) void this.onBackOnline?.(node.id);
          }
        } catch (error) {
          if (node.status !== NodeStatus.OFFLINE) this.log.warn({ node: node.name, err: error }, 'node went offline');
          await this.db.manager.update(Node, { id: node.id }, { lastError: String((error as Error).message).slice(0, 500) });
          await this.db.manager.update(Node, { id: node.id, status: Not(In(OPERATOR_STATUSES)) }, { status: NodeStatus.OFFLINE });
          if (node.status !== NodeStatus.OFFLINE && !OPERATOR_STATUSES.includes(node.status)) this.live?.nodeChanged(node.id);
        }
      }),
    );
  }
}
