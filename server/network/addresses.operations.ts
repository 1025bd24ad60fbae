import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import { Container } from '../containers/container.entity';
import { lxdProjectOf } from '../nodes/node-gateway';
import { Node } from '../nodes/node.entity';
import { nodeFailure } from '../operations/node-failure';
import type { Operation } from '../operations/operation.entity';
import type { OperationHandler, Step } from '../operations/runner';
import type { AddressNodes, LiveResult } from './addresses.gateway';
import { ADD_ADDRESS, notifyNetworkChanged, REMOVE_ADDRESS, type NetworkChangedHook } from './addresses.service';
import { IpAddress } from './ip-pool.entity';
import { addressesOf, routedNicDevice } from './routed-nic';

/** What the address handlers need besides the database: the node side, and the hook after each change (read when called, so the lead may wire it later). */
export interface AddressHandlerDeps {
  nodes: AddressNodes;
  log: Logger;
  onNetworkChanged?: () => NetworkChangedHook | undefined;
}

const LIVE_STEP: Record<LiveResult, string> = {
  configured: 'configured inside the running container',
  stopped: 'the container is not running: the addresses come up when it starts',
  'no-ip-command': 'the image has no `ip` command: the addresses come up at the next start',
};

/**
 * The handlers of adding and removing addresses. Both set the node's eth0 to what the database
 * says (an add's address is recorded already; a remove's is left out, and released only once it
 * is off the node), so running one again, after a crash or a failure, converges.
 */
export function addressHandlers(db: DataSource, deps: AddressHandlerDeps): Record<string, OperationHandler> {
  async function apply(operation: Operation, step: Step, leaving: string | null) {
    const container = await db.manager.findOneBy(Container, { id: operation.containerId! });
    if (!container) throw new CorralError(ErrorCode.NOT_FOUND, 'the container is gone');
    const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
    const addresses = (await addressesOf(db.manager, container.id)).filter((a) => a.address !== leaving);
    await step.progress(40, `setting ${addresses.length} address${addresses.length === 1 ? '' : 'es'} on ${node.name}`);
    let live: LiveResult;
    try {
      live = await deps.nodes.applyRoutedNic(node, lxdProjectOf(container.projectId), container.name, routedNicDevice(container.id, addresses), addresses);
    } catch (error) {
      throw nodeFailure(error, 'changing the addresses');
    }
    await step.progress(90, LIVE_STEP[live]);
    return { container, node };
  }

  const add: OperationHandler = {
    async run(operation, step) {
      const { node } = await apply(operation, step, null);
      deps.log.info({ container: operation.containerId, address: operation.input.allocated }, 'address added');
      await notifyNetworkChanged(deps.onNetworkChanged?.(), node.id, deps.log);
    },
    recover: (operation, step) => add.run(operation, step),
    /** The address goes back to the pool, and the node is set back to the addresses left (best effort: the next change converges too). */
    async onFailure(operation) {
      if (typeof operation.input.allocated !== 'string') return;
      await db.manager.delete(IpAddress, { containerId: operation.containerId!, address: operation.input.allocated });
      const container = await db.manager.findOneBy(Container, { id: operation.containerId! });
      if (!container) return;
      try {
        const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
        const addresses = await addressesOf(db.manager, container.id);
        await deps.nodes.applyRoutedNic(node, lxdProjectOf(container.projectId), container.name, routedNicDevice(container.id, addresses), addresses);
        await notifyNetworkChanged(deps.onNetworkChanged?.(), node.id, deps.log);
      } catch (error) {
        deps.log.warn({ err: error, container: container.id }, 'could not set the addresses back after a failed add');
      }
    },
  };

  const remove: OperationHandler = {
    async run(operation, step) {
      const address = String(operation.input.address);
      const { container, node } = await apply(operation, step, address);
      await db.manager.delete(IpAddress, { containerId: container.id, address });
      deps.log.info({ container: container.id, address }, 'address removed');
      await notifyNetworkChanged(deps.onNetworkChanged?.(), node.id, deps.log);
    },
    recover: (operation, step) => remove.run(operation, step),
  };

  return { [ADD_ADDRESS]: add, [REMOVE_ADDRESS]: remove };
}

/**
 * Sets a container's eth0 on its node to the addresses Corral recorded for it (none: no eth0).
 * For copies that bring an eth0 of their own: a clone or a backup restored as a new container
 * has no addresses (the original keeps them), a backup restored in place may carry older ones.
 */
export async function applyRecordedAddresses(db: DataSource, nodes: AddressNodes, node: Node, container: Pick<Container, 'id' | 'projectId' | 'name'>): Promise<LiveResult> {
  const addresses = await addressesOf(db.manager, container.id);
  return nodes.applyRoutedNic(node, lxdProjectOf(container.projectId), container.name, routedNicDevice(container.id, addresses), addresses);
}
