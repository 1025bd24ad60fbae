import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import { Cluster } from '../clusters/cluster.entity';
import { Image } from '../images/image.entity';
import { lxdProjectOf, type NodeGateway } from '../nodes/node-gateway';
import { Node } from '../nodes/node.entity';
import type { Operation } from '../operations/operation.entity';
import type { OperationHandler, Step } from '../operations/runner';
import { Container, ContainerStatus } from './container.entity';
import type { BackupArchive } from '../backups/backup-archive';
import { BackupLocation, ContainerBackup } from '../backups/backup.entity';
import { nodeFailure } from '../operations/node-failure';
import { routedNetworkAtCreate } from '../network/routed-nic';
import { forgetCloudInit, takeCloudInitConfig } from './cloud-init';

/** LXD's instance status in Corral's words. */
export function statusFromLxd(status: string | null): ContainerStatus {
  switch (status) {
    case 'Running':
      return ContainerStatus.RUNNING;
    case 'Stopped':
    case 'Frozen':
      return ContainerStatus.STOPPED;
    case 'Error':
      return ContainerStatus.ERROR;
    default:
      return ContainerStatus.UNKNOWN;
  }
}

/** The handlers that carry out container operations on nodes. */
/**
 * `networkChanged` is told the node after a create or delete changed its containers' addresses
 * (the firewall re-renders); it must not throw (see notifyNetworkChanged).
 */
export function containerHandlers(db: DataSource, gateway: NodeGateway, log: Logger, archive: Pick<BackupArchive, 'remove'>, networkChanged: (nodeId: string) => Promise<void> = async () => {}): Record<string, OperationHandler> {
  async function load(operation: Operation) {
    const container = await db.manager.findOneBy(Container, { id: operation.containerId! });
    if (!container) throw new CorralError(ErrorCode.NOT_FOUND, 'the container is gone');
    const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
    return { container, node, project: lxdProjectOf(container.projectId) };
  }

  /** Re-reads the instance and sets the container's status from it; ERROR when the node cannot say. */
  async function settle(operation: Operation) {
    const container = operation.containerId ? await db.manager.findOneBy(Container, { id: operation.containerId }) : null;
    if (!container) return;
    const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
    try {
      const status = await gateway.instanceStatus(node, lxdProjectOf(container.projectId), container.name);
      await db.manager.update(Container, { id: container.id }, status === null ? { status: ContainerStatus.ERROR, statusReason: 'the instance is missing on its node' } : { status: statusFromLxd(status), statusReason: null });
    } catch (error) {
      await db.manager.update(Container, { id: container.id }, { status: ContainerStatus.UNKNOWN, statusReason: `the node did not answer: ${(error as Error).message}`.slice(0, 500) });
    }
  }

  /** Removes whatever a create left on the node, then the row. If the node cannot be reached, the row stays (ERROR) so nothing is orphaned. */
  async function undoCreate(operation: Operation) {
    const container = operation.containerId ? await db.manager.findOneBy(Container, { id: operation.containerId }) : null;
    if (!container) return;
    const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
    try {
      await gateway.deleteInstance(node, lxdProjectOf(container.projectId), container.name);
      await db.manager.delete(Container, { id: container.id });
    } catch (error) {
      log.error({ err: error, container: container.id }, 'could not remove a half-created container from its node');
      await db.manager.update(Container, { id: container.id }, { status: ContainerStatus.ERROR, statusReason: 'creation failed and the node could not be cleaned up' });
    }
  }

  const create: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const { container, node, project } = await load(operation);
      const image = await db.manager.findOneByOrFail(Image, { id: container.imageId });
      const cluster = await db.manager.findOneByOrFail(Cluster, { id: node.clusterId });
      const userData = await takeCloudInitConfig(db, operation);
      try {
        await step.progress(10, 'preparing the project on the node');
        await gateway.ensureProject(node, project, cluster.storagePool);
        await step.progress(25, 'copying the image to the node');
        await gateway.ensureImage(node, image);
        await step.progress(60, 'creating the container');
        const network = await routedNetworkAtCreate(db.manager, container.id);
        await gateway.createInstance(node, project, { name: container.name, image, cpu: container.cpu, memoryBytes: container.memoryBytes, diskBytes: container.diskBytes, storagePool: cluster.storagePool, userData, network });
        await step.progress(85, 'starting the container');
        // setState reads the status back and fails unless the container is Running.
        await gateway.setState(node, project, container.name, 'start', false);
      } catch (error) {
        throw nodeFailure(error);
      }
      await db.manager.update(Container, { id: container.id }, { status: ContainerStatus.RUNNING, statusReason: null });
      await networkChanged(node.id);
    },
    async recover(operation: Operation) {
      // The runner died mid-create: undo (onFailure) rather than guess how far it got.
      await forgetCloudInit(db, operation);
      throw new CorralError(ErrorCode.INTERRUPTED, 'Corral stopped while creating the container; it was removed again');
    },
    onFailure: undoCreate,
  };

  const power = (action: 'start' | 'stop' | 'restart', target: ContainerStatus): OperationHandler => {
    const handler: OperationHandler = {
      async run(operation: Operation, step: Step) {
        const { container, node, project } = await load(operation);
        await step.progress(30, `${action === 'stop' ? 'stopping' : action === 'start' ? 'starting' : 'restarting'} the container`);
        try {
          await gateway.setState(node, project, container.name, action, operation.input.force === true);
        } catch (error) {
          throw nodeFailure(error);
        }
        await db.manager.update(Container, { id: container.id }, { status: target, statusReason: null });
      },
      // Setting a state twice is harmless: finish the job.
      recover: (operation, step) => handler.run(operation, step),
      onFailure: settle,
    };
    return handler;
  };

  const remove: OperationHandler = {
    async run(operation: Operation, step: Step) {
      // A second attempt (after a crash) may find the row already gone: then the work is done.
      if (!(await db.manager.existsBy(Container, { id: operation.containerId! }))) return;
      const { container, node, project } = await load(operation);
      await step.progress(30, 'deleting the container');
      try {
        await gateway.deleteInstance(node, project, container.name);
      } catch (error) {
        throw nodeFailure(error);
      }
      // LXD deleted the backups it kept with the instance; the archived ones go with the container too (files before rows).
      for (const backup of await db.manager.findBy(ContainerBackup, { containerId: container.id, location: BackupLocation.ARCHIVE })) await archive.remove(backup.id);
      // The row's addresses go with it (ON DELETE CASCADE): released at once.
      await db.manager.delete(Container, { id: container.id });
      await networkChanged(node.id);
    },
    recover: (operation, step) => remove.run(operation, step),
    onFailure: settle,
  };

  return {
    'container.create': create,
    'container.start': power('start', ContainerStatus.RUNNING),
    'container.stop': power('stop', ContainerStatus.STOPPED),
    'container.restart': power('restart', ContainerStatus.RUNNING),
    'container.delete': remove,
  };
}

