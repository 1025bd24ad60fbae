import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import { newId } from '../common/ids';
import { lxdProjectOf, type NodeGateway } from '../nodes/node-gateway';
import { Node } from '../nodes/node.entity';
import type { Operation } from '../operations/operation.entity';
import type { OperationHandler, Step } from '../operations/runner';
import { Container } from './container.entity';
import { ContainerNic, NicKind } from './nic.entity';
import { nicsGatewayFor, projectBridge, type NicsGateway } from './nics.gateway';
import { ADD_NIC, REMOVE_NIC } from './nics.service';
import { nodeFailure } from '../operations/node-failure';

/**
 * The MAC address of the NIC an operation adds: LXD's prefix (00:16:3e) and three bytes from the
 * operation's ID, so that a run carried out again after a restart recognises its own device.
 */
export function hwaddrOf(operationId: string): string {
  const bytes = createHash('sha256').update(operationId).digest().subarray(0, 3);
  return ['00', '16', '3e', ...[...bytes].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The NIC limits a container's NICs carry (setContainerNetworkLimits applies them to every NIC), for a new one to get the same. */
export function sharedLimits(devices: Record<string, Record<string, string>>): Record<string, string> {
  const limits: Record<string, string> = {};
  for (const device of Object.values(devices)) {
    if (device.type !== 'nic') continue;
    for (const key of ['limits.ingress', 'limits.egress', 'limits.max']) if (device[key] && !limits[key]) limits[key] = device[key];
  }
  return limits;
}

/**
 * Makes sure the networks of a container's NICs exist on a node it is about to land on (cold
 * migration): the project's bridge is created, a bridge the provider opened must be there
 * already (CONFLICT otherwise, before anything moves). A container without NICs costs one query.
 */
export async function prepareNicNetworks(em: EntityManager, gateway: NodeGateway, target: Node, container: Pick<Container, 'id' | 'projectId'>): Promise<void> {
  const nics = await em.find(ContainerNic, { where: { containerId: container.id } });
  if (nics.length === 0) return;
  const node = nicsGatewayFor(gateway);
  for (const network of new Set(nics.map((n) => n.network ?? projectBridge(container.projectId)))) {
    if (network === projectBridge(container.projectId)) await node.ensureProjectBridge(target, container.projectId);
    else if (!(await node.network(target, network))) throw new CorralError(ErrorCode.CONFLICT, `node ${target.name} has no network ${network}, which the container's interfaces use`);
  }
}

/**
 * The handlers of adding and removing NICs. Both are safe to run again: an add finds its own
 * device (by MAC address) already there, a remove finds the device gone.
 */
export function nicHandlers(db: DataSource, gateway: NicsGateway, log: Logger): Record<string, OperationHandler> {
  async function load(operation: Operation) {
    const container = await db.manager.findOneBy(Container, { id: operation.containerId! });
    if (!container) throw new CorralError(ErrorCode.NOT_FOUND, 'the container is gone');
    const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
    return { container, node, project: lxdProjectOf(container.projectId) };
  }

  const add: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const { container, node, project } = await load(operation);
      const name = String(operation.input.name);
      const network = String(operation.input.network ?? projectBridge(container.projectId));
      const hwaddr = hwaddrOf(operation.id);
      try {
        await step.progress(20, `preparing network ${network} on ${node.name}`);
        if (network === projectBridge(container.projectId)) await gateway.ensureProjectBridge(node, container.projectId);
        else if (!(await gateway.network(node, network))) throw new CorralError(ErrorCode.CONFLICT, `network ${network} is gone from node ${node.name}`);

        const devices = await gateway.devices(node, project, container.name);
        if (!devices) throw new CorralError(ErrorCode.CONFLICT, 'the instance is missing on its node');
        const existing = devices.expanded[name];
        if (existing && !(existing.type === 'nic' && existing.hwaddr === hwaddr)) {
          throw new CorralError(ErrorCode.CONFLICT, `the instance already has a device named ${name} on node ${node.name}`, { field: 'name' });
        }
        if (!existing) {
          await step.progress(50, `adding ${name}`);
          const device = { type: 'nic', network, name, hwaddr, ...sharedLimits(devices.expanded) };
          const applied = await gateway.attach(node, project, container.name, name, device);
          if (applied.hwaddr !== hwaddr || applied.network !== network) throw new CorralError(ErrorCode.LXD_ERROR, `the node kept another ${name}`);
        }
      } catch (error) {
        throw nodeFailure(error, `adding ${name}`);
      }
      await db.manager
        .createQueryBuilder()
        .insert()
        .into(ContainerNic)
        .values({ id: newId(), containerId: container.id, name, kind: NicKind.BRIDGED, network, hwaddr })
        .orIgnore()
        .execute();
      log.info({ container: container.id, nic: name, network }, 'network interface added');
    },
    recover: (operation, step) => add.run(operation, step),
  };

  const remove: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const { container, node, project } = await load(operation);
      const name = String(operation.input.name);
      await step.progress(50, `removing ${name}`);
      try {
        await gateway.detach(node, project, container.name, name);
        const devices = await gateway.devices(node, project, container.name);
        if (devices?.own[name]) throw new CorralError(ErrorCode.LXD_ERROR, `${name} is still on the instance`);
      } catch (error) {
        throw nodeFailure(error, `removing ${name}`);
      }
      await db.manager.delete(ContainerNic, { containerId: container.id, name });
    },
    recover: (operation, step) => remove.run(operation, step),
  };

  return { [ADD_NIC]: add, [REMOVE_NIC]: remove };
}
