import { In, type DataSource, type EntityManager } from 'typeorm';
import { visibleContainer } from '../accounts/access';
import type { Actor } from '../app/actor';
import { badInput, CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import type { AuditService } from '../audit/audit.service';
import { Container } from '../containers/container.entity';
import { IpAddress } from '../network/ip-pool.entity';
import { routedHostName } from '../network/routed-nic';
import { Node, NodeStatus } from '../nodes/node.entity';
import { NodeSetup } from '../provisioning/node-setup.entity';
import { withStdin, type NodeShell } from '../provisioning/node-shell';
import { ContainerFirewall, ContainerFirewallSettings, PortProtocol, type StoredPortRule } from './firewall.entity';
import type { PortRuleInput, SetContainerFirewallInput } from './firewall.inputs';
import { FIREWALL_TABLE, renderNodeFirewall, type FirewallContainer } from './render';

export const TCP_CONNECTION_LIMIT_MAX = 100_000;
export const PORT_RULES_MAX = 64;

/** Statuses in which a container's node may be asked to apply rules. */
const UNREACHABLE = [NodeStatus.OFFLINE, NodeStatus.SETTING_UP, NodeStatus.FAILED];

interface NodeQueue {
  running: Promise<void>;
  /** The one further run that every request during `running` waits for. */
  next: Promise<void> | null;
}

/**
 * Per-container inbound firewall settings, and Corral's nftables table on each node that enforces
 * them together with anti-spoofing. The node's whole table is rendered from the database and
 * replaced in one `nft -f` transaction over SSH (NodeShell), so any change (settings, addresses,
 * containers coming and going) is a `refresh(nodeId)`.
 *
 * Nodes added without SSH (addNode) cannot be managed: there, settings are refused with
 * NODE_UNAVAILABLE (clearing them is allowed), and anti-spoofing is LXD's own rpfilter only.
 */
export class FirewallService {
  private readonly queues = new Map<string, NodeQueue>();

  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly shell: NodeShell,
    private readonly log: Logger,
  ) {}

  /** The container's settings; no row means no limit and all ports open. */
  async settingsOf(containerId: string): Promise<ContainerFirewall> {
    const row = await this.db.manager.findOneBy(ContainerFirewallSettings, { containerId });
    return { tcpConnectionLimit: row?.tcpConnectionLimit ?? null, inboundPorts: row?.inboundPorts ?? null };
  }

  /**
   * Replaces the container's settings and applies its node's table before answering. Invalid
   * input is BAD_USER_INPUT naming the field; settings on a node Corral cannot manage over SSH
   * (or that is offline) are NODE_UNAVAILABLE; in both cases nothing changes. When the node fails
   * to apply, the settings stay saved (Corral applies them at the node's next refresh) and the
   * answer is NODE_UNAVAILABLE saying so.
   */
  async set(actor: Actor, input: SetContainerFirewallInput): Promise<Container> {
    const { container, nodeManaged } = await this.audit.within({ actor, request: actor.request }, 'container.setFirewall', async (em, draft) => {
      draft.target('container', input.containerId);
      const found = await visibleContainer(em, actor, input.containerId);
      draft.concerns(found.project.account);
      const tcpConnectionLimit = checkedLimit(input.tcpConnectionLimit);
      const inboundPorts = checkedPorts(input.inboundPorts);
      const node = await em.findOneByOrFail(Node, { id: found.nodeId });
      const managed = await sshConnected(em, node.id);
      const enforcing = tcpConnectionLimit !== null || inboundPorts !== null;
      if (enforcing && !managed) {
        throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name} was added without SSH (addNode), so Corral cannot enforce firewall rules there; connect it with connectNode first`);
      }
      if (managed && UNREACHABLE.includes(node.status)) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name} is ${node.status.toLowerCase()}`);
      if (enforcing) await em.save(em.create(ContainerFirewallSettings, { containerId: found.id, tcpConnectionLimit, inboundPorts }));
      else await em.delete(ContainerFirewallSettings, { containerId: found.id });
      return { container: found as Container, nodeManaged: managed };
    });
    if (nodeManaged) {
      try {
        await this.refresh(container.nodeId);
      } catch (error) {
        throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `the firewall settings are saved, but the node did not apply them (Corral retries at its next refresh): ${(error as Error).message}`);
      }
    }
    return container;
  }

  /**
   * Renders the node's table from the database and applies it. One apply at a time per node (in
   * this process); requests during an apply are served together by one more run, which reads the
   * database after they were made. Nodes without SSH are left alone. Rejects when the node fails.
   */
  refresh(nodeId: string): Promise<void> {
    const queue = this.queues.get(nodeId);
    if (!queue) {
      const fresh: NodeQueue = { running: Promise.resolve(), next: null };
      this.queues.set(nodeId, fresh);
      fresh.running = this.run(nodeId, fresh);
      return fresh.running;
    }
    if (!queue.next) {
      const settle = () => undefined;
      queue.next = queue.running.then(settle, settle).then(() => {
        queue.next = null;
        queue.running = this.run(nodeId, queue);
        return queue.running;
      });
    }
    return queue.next;
  }

  /** Like refresh, for hooks that must not fail: the error is logged. */
  async refreshQuietly(nodeId: string): Promise<void> {
    try {
      await this.refresh(nodeId);
    } catch (error) {
      this.log.warn({ nodeId, err: error }, 'firewall: the node did not apply its rules');
    }
  }

  /**
   * Applies every SSH-connected READY node's table once: at start and when a node is READY again
   * (the table survives an LXD restart, not a reboot). Unchanged nodes are skipped on the node.
   */
  async reconcileAll(): Promise<void> {
    const nodes = await this.db.manager
      .createQueryBuilder(Node, 'node')
      .innerJoin(NodeSetup, 'setup', 'setup.nodeId = node.id')
      .where('node.status = :ready', { ready: NodeStatus.READY })
      .andWhere('setup.corralKeyInstalled = :yes', { yes: true })
      .getMany();
    await Promise.all(nodes.map((node) => this.refreshQuietly(node.id)));
  }

  private async run(nodeId: string, queue: NodeQueue): Promise<void> {
    try {
      await this.apply(nodeId);
    } finally {
      if (queue.next === null && this.queues.get(nodeId) === queue) this.queues.delete(nodeId);
    }
  }

  private async apply(nodeId: string): Promise<void> {
    if (!(await this.shell.available(nodeId))) return;
    const { script, hash } = renderNodeFirewall(await this.containersOn(nodeId));
    // The table's comment names what it holds: an unchanged node keeps its table (and counters).
    const command = `${withStdin(`if nft list table ${FIREWALL_TABLE} 2>/dev/null | grep -qF 'comment "corral:${hash}"'; then echo unchanged; else nft -f -`, script)}\nfi`;
    const out = await this.shell.check(nodeId, command, 'applying the firewall (nft -f)');
    this.log.debug({ nodeId, hash, outcome: out.trim() }, 'firewall: node refreshed');
  }

  /** Every container on the node that has addresses, with its settings. */
  private async containersOn(nodeId: string): Promise<FirewallContainer[]> {
    const em = this.db.manager;
    const ids = (await em.find(Container, { where: { nodeId }, select: { id: true } })).map((c) => c.id);
    if (ids.length === 0) return [];
    const [addresses, settings] = await Promise.all([em.find(IpAddress, { where: { containerId: In(ids) } }), em.find(ContainerFirewallSettings, { where: { containerId: In(ids) } })]);
    const settingsOf = new Map(settings.map((s) => [s.containerId, s]));
    return ids.map((id) => ({
      id,
      hostInterface: routedHostName(id),
      addresses: addresses.filter((a) => a.containerId === id).map((a) => ({ address: a.address, family: a.family })),
      tcpConnectionLimit: settingsOf.get(id)?.tcpConnectionLimit ?? null,
      inboundPorts: settingsOf.get(id)?.inboundPorts ?? null,
    }));
  }
}

async function sshConnected(em: EntityManager, nodeId: string): Promise<boolean> {
  const setup = await em.findOneBy(NodeSetup, { nodeId });
  return Boolean(setup?.corralKeyInstalled && setup.hostKeyFingerprint);
}

function checkedLimit(limit: number | null | undefined): number | null {
  if (limit === undefined || limit === null) return null;
  if (!Number.isInteger(limit) || limit < 1 || limit > TCP_CONNECTION_LIMIT_MAX) throw badInput(`tcpConnectionLimit must be between 1 and ${TCP_CONNECTION_LIMIT_MAX}, or null for no limit`, 'tcpConnectionLimit');
  return limit;
}

function checkedPorts(rules: PortRuleInput[] | null | undefined): StoredPortRule[] | null {
  if (rules === undefined || rules === null) return null;
  if (rules.length > PORT_RULES_MAX) throw badInput(`at most ${PORT_RULES_MAX} port rules`, 'inboundPorts');
  return rules.map((rule) => {
    const to = rule.to ?? rule.from;
    if (![PortProtocol.TCP, PortProtocol.UDP].includes(rule.protocol)) throw badInput('protocol must be TCP or UDP', 'inboundPorts');
    if (!Number.isInteger(rule.from) || !Number.isInteger(to) || rule.from < 1 || to > 65535 || rule.from > to) {
      throw badInput(`ports must be 1–65535 with from ≤ to (got ${rule.from}–${to})`, 'inboundPorts');
    }
    return { protocol: rule.protocol, from: rule.from, to };
  });
}
