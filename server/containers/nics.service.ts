import type { DataSource } from 'typeorm';
import type { Actor } from '../app/actor';
import { recordContainerOperation } from './container-operation';
import { badInput, conflict, CorralError, ErrorCode, notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import type { OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { Container } from './container.entity';
import { ContainerNic } from './nic.entity';
import { projectBridge, type NicsGateway } from './nics.gateway';

export const ADD_NIC = 'container.addNetworkInterface';
export const REMOVE_NIC = 'container.removeNetworkInterface';

/** Interfaces Corral adds per container (the primary `eth0` not counted). */
export const MAX_NICS = 8;

/**
 * Linux interface names (IFNAMSIZ: at most 15 bytes; no `/`, `:` or blanks), which LXD checks
 * for a NIC's `name`, narrowed to ASCII starting with a letter. The name is also the LXD device name.
 */
export const NIC_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$/;
/** LXD network names: the same bound (the bridge is an interface on the node). */
const NETWORK_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$/;
/** The container's primary interface (the routed NIC with public addresses, issue 5): never added or removed here. */
export const PRIMARY_NIC = 'eth0';
/** `lo` exists in every container; `root` is the root disk's device name. */
const RESERVED = new Set(['lo', 'root']);

/** Statuses in which a container is busy with a lifecycle change of its own. */

/** Adds and removes a container's network interfaces, as operations (hot-plugged on a running container). */
export class NicsService {
  runner!: OperationRunner;

  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
    private readonly gateway: NicsGateway,
  ) {}

  /** The interfaces Corral added to a container, by name. */
  list(containerId: string): Promise<ContainerNic[]> {
    return this.db.manager.find(ContainerNic, { where: { containerId }, order: { name: 'ASC' } });
  }

  /**
   * Records a `container.addNetworkInterface` operation. Refusals come before anything is
   * recorded: a bad or reserved name or network (BAD_USER_INPUT), a name or network the container
   * already has (CONFLICT: LXD allows one NIC of an instance per managed bridge), more than
   * MAX_NICS (QUOTA_EXCEEDED).
   */
  add(actor: Actor, input: { containerId: string; name?: string | null; network?: string | null; idempotencyKey?: string | null }): Promise<Container> {
    const request = { id: input.containerId, name: input.name ?? null, network: input.network ?? null };
    return recordContainerOperation(this.recording, actor, input.containerId, ADD_NIC, request, input.idempotencyKey, async (em, container, node) => {
      const existing = await em.find(ContainerNic, { where: { containerId: container.id }, order: { name: 'ASC' } });
      const taken = existing.map((n) => n.name);
      let name = request.name;
      if (name !== null) {
        checkName(name);
        if (name === PRIMARY_NIC) throw badInput(`${PRIMARY_NIC} is reserved for the container's primary interface`, 'name');
        if (taken.includes(name)) throw conflict(`the container already has an interface named ${name}`, 'name');
      }
      if (taken.length >= MAX_NICS) {
        throw new CorralError(ErrorCode.QUOTA_EXCEEDED, `a container has at most ${MAX_NICS} added network interfaces; remove one first`, { field: 'name', limit: MAX_NICS });
      }
      if (name === null) {
        for (let n = 1; name === null; n++) if (!taken.includes(`eth${n}`)) name = `eth${n}`;
      }
      const own = projectBridge(container.projectId);
      let network = request.network;
      if (network !== null && network !== own) {
        if (!NETWORK_NAME.test(network)) throw badInput('network must be 1–15 letters, digits, `_`, `-` or `.`, starting with a letter', 'network');
        let found;
        try {
          found = await this.gateway.network(node, network);
        } catch (error) {
          throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `could not read the networks of node ${node.name}: ${(error as Error).message}`);
        }
        if (!found?.managed || found.type !== 'bridge' || !(found.attachable || found.project === container.projectId)) {
          throw badInput(`node ${node.name} has no bridge ${network} open to containers`, 'network');
        }
      }
      network ??= own;
      if (existing.some((n) => n.network === network)) {
        throw conflict(`the container already has an interface on ${network}; LXD allows one per network (name another network)`, 'network');
      }
      return { name, network };
    });
  }

  /** Records a `container.removeNetworkInterface` operation: NOT_FOUND for an interface Corral did not add; eth0 is refused (BAD_USER_INPUT). */
  remove(actor: Actor, input: { containerId: string; name: string; idempotencyKey?: string | null }): Promise<Container> {
    const request = { id: input.containerId, name: input.name };
    return recordContainerOperation(this.recording, actor, input.containerId, REMOVE_NIC, request, input.idempotencyKey, async (em, container) => {
      checkName(input.name);
      if (input.name === PRIMARY_NIC) throw badInput(`${PRIMARY_NIC} is the container's primary interface and cannot be removed`, 'name');
      if (!(await em.findOneBy(ContainerNic, { containerId: container.id, name: input.name }))) throw notFound('Network interface');
      return {};
    });
  }

  /** What recordContainerOperation needs (the runner is set after construction). */
  private get recording() {
    return { audit: this.audit, operations: this.operations, runner: this.runner };
  }
}

function checkName(name: string): void {
  if (!NIC_NAME.test(name)) throw badInput('name must be 1–15 letters, digits, `_`, `-` or `.`, starting with a letter', 'name');
  if (RESERVED.has(name)) throw badInput(`${name} is reserved`, 'name');
}
