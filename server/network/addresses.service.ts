import type { EntityManager } from 'typeorm';
import type { Actor } from '../app/actor';
import { recordContainerOperation } from '../containers/container-operation';
import { badInput, CorralError, ErrorCode, notFound } from '../app/errors';
import type { Logger } from '../app/logger';
import type { AuditService } from '../audit/audit.service';
import { isUniqueViolation } from '../common/db-errors';
import { newId } from '../common/ids';
import { Container } from '../containers/container.entity';
import type { OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { familyNumber, type AddressFamily } from './addresses.inputs';
import { formatAddress, parseAddress, parseCidr, sortKeyOf, valueOfSortKey, type Cidr, type Family } from './ip-math';
import { IpAddress, IpPool } from './ip-pool.entity';
import type { IpamService } from './ipam.service';

export const ADD_ADDRESS = 'container.addAddress';
export const REMOVE_ADDRESS = 'container.removeAddress';

/** Public addresses per container (both families together). */
export const MAX_ADDRESSES = 16;
/** Addresses a create may ask for. */
export const MAX_ADDRESSES_AT_CREATE = 8;

/** Statuses in which a container is busy with a lifecycle change of its own. */

/** Called after a node's set of container addresses changed (the firewall re-renders its rules); never fails the caller. */
export type NetworkChangedHook = (nodeId: string) => void | Promise<void>;

/** Calls the hook and logs (never throws) whatever it throws. */
export async function notifyNetworkChanged(hook: NetworkChangedHook | undefined, nodeId: string, log: Logger): Promise<void> {
  if (!hook) return;
  try {
    await hook(nodeId);
  } catch (error) {
    log.warn({ err: error, node: nodeId }, 'the network-changed hook failed');
  }
}

/**
 * Allocates one address to a container from the IP pools of `clusterId`, in `em`'s transaction:
 * a specific address (ADDRESS_OUTSIDE_CLUSTER when no pool of the cluster holds it, BAD_USER_INPUT
 * for a pool's gateway, a reserved address or one outside the pool's first–last range,
 * ADDRESS_IN_USE when it is allocated already), or the lowest free one of the first pool (by name)
 * of the family that has one (POOL_EXHAUSTED when none has). QUOTA_EXCEEDED beyond MAX_ADDRESSES.
 */
export async function allocateForContainer(
  em: EntityManager,
  ipam: Pick<IpamService, 'allocateAddress'>,
  containerId: string,
  clusterId: string,
  request: { family: AddressFamily; address?: string | null },
): Promise<IpAddress> {
  const family = familyNumber(request.family);
  if ((await em.countBy(IpAddress, { containerId })) >= MAX_ADDRESSES) {
    throw new CorralError(ErrorCode.QUOTA_EXCEEDED, `a container has at most ${MAX_ADDRESSES} addresses; remove one first`, { field: 'address', limit: MAX_ADDRESSES });
  }
  const pools = await em.find(IpPool, { where: { clusterId, family }, order: { name: 'ASC' } });
  if (request.address !== null && request.address !== undefined) return allocateSpecific(em, containerId, family, pools, request.address);
  if (pools.length === 0) throw new CorralError(ErrorCode.POOL_EXHAUSTED, `the cluster has no IPv${family} pool`, { field: 'family' });
  for (const pool of pools) {
    try {
      return await ipam.allocateAddress(pool.id, containerId, em);
    } catch (error) {
      if (!(error instanceof CorralError && error.code === ErrorCode.POOL_EXHAUSTED)) throw error;
    }
  }
  throw new CorralError(ErrorCode.POOL_EXHAUSTED, `every IPv${family} pool of the cluster is full`, { field: 'family' });
}

async function allocateSpecific(em: EntityManager, containerId: string, family: Family, pools: IpPool[], text: string): Promise<IpAddress> {
  const parsed = parseAddress(text);
  if (!parsed) throw badInput(`"${text}" is not an IP address`, 'address');
  if (parsed.family !== family) throw badInput(`${text} is not an IPv${family} address`, 'address');
  const address = formatAddress(family, parsed.value);
  const pool = pools.find((p) => {
    const block = parseCidr(p.cidr) as Cidr;
    return parsed.value >= block.first && parsed.value <= block.last;
  });
  if (!pool) throw new CorralError(ErrorCode.ADDRESS_OUTSIDE_CLUSTER, `${address} is in none of the IP pools of the container's cluster`, { field: 'address' });
  if (parsed.value < valueOfSortKey(pool.firstKey) || parsed.value > valueOfSortKey(pool.lastKey)) {
    throw badInput(`${address} is outside the range pool "${pool.name}" hands out (${pool.firstAddress}–${pool.lastAddress})`, 'address');
  }
  if (address === pool.gateway || pool.reserved.includes(address)) throw badInput(`${address} is the gateway or a reserved address of pool "${pool.name}"`, 'address');
  const row = em.create(IpAddress, { id: newId(), poolId: pool.id, containerId, address, family, sortKey: sortKeyOf(family, parsed.value) });
  try {
    // A savepoint, so that a refusal leaves the caller's transaction usable (PostgreSQL).
    await em.transaction((inner) => inner.insert(IpAddress, row));
  } catch (error) {
    if (isUniqueViolation(error)) throw new CorralError(ErrorCode.ADDRESS_IN_USE, `${address} is already allocated`, { field: 'address' });
    throw error;
  }
  return row;
}

/**
 * Adds and removes a container's public addresses. The database decides at once (the answer
 * carries every refusal, nothing recorded on a refusal); an operation then sets the container's
 * routed eth0 on its node to the recorded addresses and, if it runs, configures them inside.
 */
export class ContainerAddressesService {
  runner!: OperationRunner;
  /** Wired by the lead to the firewall: called with the node after any change of its containers' addresses. */
  onNetworkChanged?: NetworkChangedHook;

  constructor(
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
    private readonly ipam: Pick<IpamService, 'allocateAddress'>,
  ) {}

  /** Allocates the address now and records `container.addAddress`, which puts it on the node. */
  add(actor: Actor, input: { containerId: string; family: AddressFamily; address?: string | null; idempotencyKey?: string | null }): Promise<Container> {
    const request = { id: input.containerId, family: input.family, address: input.address ?? null };
    return recordContainerOperation(this.recording, actor, input.containerId, ADD_ADDRESS, request, input.idempotencyKey, async (em, container, node) => {
      const row = await allocateForContainer(em, this.ipam, container.id, node.clusterId, request);
      return { allocated: row.address };
    });
  }

  /** Records `container.removeAddress`: the address leaves the node first, then is released. NOT_FOUND for an address the container does not have. */
  remove(actor: Actor, input: { containerId: string; address: string; idempotencyKey?: string | null }): Promise<Container> {
    const request = { id: input.containerId, address: input.address };
    return recordContainerOperation(this.recording, actor, input.containerId, REMOVE_ADDRESS, request, input.idempotencyKey, async (em, container) => {
      const parsed = parseAddress(input.address);
      const address = parsed && formatAddress(parsed.family, parsed.value);
      if (!address || !(await em.existsBy(IpAddress, { containerId: container.id, address }))) throw notFound('Address');
      return { address };
    });
  }

  /** What recordContainerOperation needs (the runner is set after construction). */
  private get recording() {
    return { audit: this.audit, operations: this.operations, runner: this.runner };
  }
}
