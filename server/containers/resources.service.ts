import type { EntityManager } from 'typeorm';
import type { Actor } from '../app/actor';
import { badInput, CorralError, ErrorCode } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { Cluster } from '../clusters/cluster.entity';
import { lxdProjectOf } from '../nodes/node-gateway';
import { Node } from '../nodes/node.entity';
import type { NodesService } from '../nodes/nodes.service';
import type { OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { recordContainerOperation } from './container-operation';
import { Container } from './container.entity';
import type { ResourcesGateway } from './resources.gateway';
import type { NodeCapabilityName } from '../nodes/node-capabilities';
import { DISK_MIB_MAX, DISK_MIB_MIN, type SetContainerIoLimitsInput, type SetContainerNetworkLimitsInput, type UpdateContainerResourcesInput } from './resources.inputs';

const MiB = 1024 * 1024;

/**
 * What a shrink must leave free above the bytes in use: btrfs counts metadata and immutable
 * extents against the qgroup, so a limit just above usage fails or fills at once.
 */
export const SHRINK_MARGIN_BYTES = 64 * MiB;

/** Live changes to a container's CPU, memory and disk, run as operations like start and stop. */
export class ResourcesService {
  runner!: OperationRunner;

  constructor(
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
    private readonly nodes: NodesService,
    private readonly gateway: ResourcesGateway,
  ) {}

  /**
   * CPU count, memory, CPU cap and CPU weight, live. Increases of CPU and memory must fit the
   * node within the cluster's overcommit (CAPACITY_EXCEEDED otherwise).
   */
  updateResources(actor: Actor, id: string, input: UpdateContainerResourcesInput, idempotencyKey?: string | null): Promise<Container> {
    const change: Record<string, number> = {};
    for (const key of ['cpu', 'memoryMiB', 'cpuLimitPercent', 'cpuWeight'] as const) {
      const value = input[key];
      if (value !== undefined && value !== null) change[key] = value;
    }
    return this.operation(actor, id, 'container.updateResources', { id, ...change }, idempotencyKey, async (em, container, node) => {
      if (Object.keys(change).length === 0) throw badInput('give at least one of cpu, memoryMiB, cpuLimitPercent, cpuWeight');
      const cpu = change.cpu ?? container.cpu;
      const memoryBytes = change.memoryMiB !== undefined ? change.memoryMiB * MiB : container.memoryBytes;
      if (cpu > container.cpu || memoryBytes > container.memoryBytes) {
        const cluster = await em.findOneByOrFail(Cluster, { id: node.clusterId });
        const used = (await this.nodes.allocation([node.id], em)).get(node.id)!;
        if (cpu > container.cpu && used.cpu - container.cpu + cpu > node.cpuThreads * cluster.cpuOvercommit) {
          throw new CorralError(ErrorCode.CAPACITY_EXCEEDED, `node ${node.name} has no room for ${cpu} CPUs`, { field: 'cpu' });
        }
        if (memoryBytes > container.memoryBytes && used.memoryBytes - container.memoryBytes + memoryBytes > node.memoryBytes * cluster.memoryOvercommit) {
          throw new CorralError(ErrorCode.CAPACITY_EXCEEDED, `node ${node.name} has no room for ${change.memoryMiB} MiB of memory`, { field: 'memoryMiB' });
        }
      }
    });
  }

  /**
   * Grows the root disk live, or shrinks it while what is used (plus a margin) still fits.
   * A shrink below that is refused (BAD_USER_INPUT) before LXD is asked to change anything.
   */
  resizeDisk(actor: Actor, id: string, diskMiB: number, idempotencyKey?: string | null): Promise<Container> {
    return this.operation(actor, id, 'container.resizeDisk', { id, diskMiB }, idempotencyKey, async (em, container, node) => {
      if (!Number.isInteger(diskMiB) || diskMiB < DISK_MIB_MIN || diskMiB > DISK_MIB_MAX) {
        throw badInput(`diskMiB must be between ${DISK_MIB_MIN} and ${DISK_MIB_MAX}`, 'diskMiB');
      }
      const bytes = diskMiB * MiB;
      if (bytes > container.diskBytes) {
        // Disk is never overcommitted.
        const used = (await this.nodes.allocation([node.id], em)).get(node.id)!;
        if (used.diskBytes - container.diskBytes + bytes > node.diskBytes) {
          throw new CorralError(ErrorCode.CAPACITY_EXCEEDED, `node ${node.name} has no room for a ${diskMiB} MiB disk`, { field: 'diskMiB' });
        }
      } else if (bytes < container.diskBytes) {
        await checkShrink(this.gateway, node, container, bytes);
      }
      void em;
    });
  }

  /**
   * IO weight and read/write throttles. Every limit asked for must be one the node can enforce
   * (LIMIT_UNSUPPORTED naming the missing feature otherwise), checked before anything is applied.
   */
  setIoLimits(actor: Actor, id: string, input: SetContainerIoLimitsInput, idempotencyKey?: string | null): Promise<Container> {
    const change = given(input, ['weight', 'readIops', 'writeIops', 'readMbit', 'writeMbit']);
    return this.operation(actor, id, 'container.setIoLimits', { id, ...change }, idempotencyKey, async (_em, _container, node) => {
      if (Object.keys(change).length === 0) throw badInput('give at least one of weight, readIops, writeIops, readMbit, writeMbit');
      if (change.readIops !== undefined && change.readMbit !== undefined) throw badInput('limit reads in IOPS or in Mbit/s, not both', 'readMbit');
      if (change.writeIops !== undefined && change.writeMbit !== undefined) throw badInput('limit writes in IOPS or in Mbit/s, not both', 'writeMbit');
      const needed: NodeCapabilityName[] = [];
      if (change.weight !== undefined) needed.push('blkioWeight');
      if (['readIops', 'writeIops', 'readMbit', 'writeMbit'].some((k) => change[k] !== undefined)) needed.push('blkioThrottle');
      requireCapabilities(node, needed);
    });
  }

  /**
   * Network weight and NIC ingress/egress. A NIC limit on a container without a NIC is
   * BAD_USER_INPUT; a limit the node cannot enforce is LIMIT_UNSUPPORTED; both before anything is applied.
   */
  setNetworkLimits(actor: Actor, id: string, input: SetContainerNetworkLimitsInput, idempotencyKey?: string | null): Promise<Container> {
    const change = given(input, ['weight', 'ingressMbit', 'egressMbit']);
    return this.operation(actor, id, 'container.setNetworkLimits', { id, ...change }, idempotencyKey, async (_em, container, node) => {
      if (Object.keys(change).length === 0) throw badInput('give at least one of weight, ingressMbit, egressMbit');
      if (change.ingressMbit !== undefined || change.egressMbit !== undefined) {
        let devices;
        try {
          devices = await this.gateway.devices(node, lxdProjectOf(container.projectId), container.name);
        } catch (error) {
          throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `could not read the container's devices from node ${node.name}: ${(error as Error).message}`);
        }
        if (!devices) throw new CorralError(ErrorCode.CONFLICT, 'the instance is missing on its node');
        if (!Object.values(devices).some((d) => d.type === 'nic')) {
          throw badInput('the container has no network interface to limit; add one first', change.ingressMbit !== undefined ? 'ingressMbit' : 'egressMbit');
        }
      }
      const needed: NodeCapabilityName[] = [];
      if (change.weight !== undefined) needed.push('netPrio');
      if (change.ingressMbit !== undefined) needed.push('nicIngressLimit');
      if (change.egressMbit !== undefined) needed.push('nicEgressLimit');
      requireCapabilities(node, needed);
    });
  }

  /** Through the shared recorder; these checks only refuse, they add nothing to the recorded input. */
  private operation(
    actor: Actor,
    id: string,
    action: string,
    input: Record<string, unknown>,
    idempotencyKey: string | null | undefined,
    check: (em: EntityManager, container: Container, node: Node) => Promise<void>,
  ): Promise<Container> {
    const recording = { audit: this.audit, operations: this.operations, runner: this.runner };
    return recordContainerOperation(recording, actor, id, action, input, idempotencyKey, async (em, container, node) => {
      await check(em, container, node);
      return {};
    });
  }
}

/** The fields of an input that were given (not null or undefined). */
function given<T extends object>(input: T, keys: (keyof T & string)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of keys) {
    const value = input[key];
    if (value !== undefined && value !== null) out[key] = value as number;
  }
  return out;
}

/** LIMIT_UNSUPPORTED naming every missing feature; unknown capabilities count as missing. */
function requireCapabilities(node: Node, needed: NodeCapabilityName[]): void {
  const caps = node.capabilities;
  const missing = needed.filter((feature) => !caps?.[feature]);
  if (missing.length === 0) return;
  const why = caps ? caps.reasons.filter((r) => missing.some((m) => r.startsWith(`${m}:`))) : ['the node has not reported its capabilities yet'];
  throw new CorralError(ErrorCode.LIMIT_UNSUPPORTED, `node ${node.name} cannot enforce ${missing.join(', ')}${why.length ? `: ${why.join('; ')}` : ''}`, { missing });
}

/** Refuses a shrink that would leave less than what is used plus the margin (reads usage from the node). */
export async function checkShrink(gateway: ResourcesGateway, node: Node, container: Container, bytes: number): Promise<void> {
  let disk;
  try {
    disk = await gateway.rootDisk(node, lxdProjectOf(container.projectId), container.name);
  } catch (error) {
    throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `could not read the disk usage from node ${node.name}: ${(error as Error).message}`);
  }
  if (!disk) throw new CorralError(ErrorCode.CONFLICT, 'the instance is missing on its node');
  if (disk.usageBytes === null) throw badInput('the node does not report disk usage, so the disk cannot be shrunk safely', 'diskMiB');
  const needed = disk.usageBytes + SHRINK_MARGIN_BYTES;
  if (bytes < needed) {
    throw new CorralError(ErrorCode.BAD_USER_INPUT, `the container uses ${Math.ceil(disk.usageBytes / MiB)} MiB; the disk cannot be made smaller than ${Math.ceil(needed / MiB)} MiB`, {
      field: 'diskMiB',
      minimumMiB: Math.ceil(needed / MiB),
    });
  }
}

