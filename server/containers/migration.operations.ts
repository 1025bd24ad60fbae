import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { BackupCarrier } from '../backups/backup-carry';
import type { Logger } from '../app/logger';
import { Cluster } from '../clusters/cluster.entity';
import { Image } from '../images/image.entity';
import { lxdProjectOf, type NodeGateway } from '../nodes/node-gateway';
import { Node } from '../nodes/node.entity';
import { Operation } from '../operations/operation.entity';
import type { OperationHandler, Step } from '../operations/runner';
import { Container, ContainerStatus } from './container.entity';
import { statusFromLxd } from './container.operations';
import type { MigrationNodes } from './migration.gateway';
import { MigrationMode } from './migration-mode';
import { MIGRATE } from './migration.service';
import { prepareNicNetworks } from './nics.operations';
import { nodeFailure } from '../operations/node-failure';

/** Deadline for the two migration operations (copying the root filesystem). */
const MOVE_DEADLINE_MS = 10 * 60_000;

/**
 * The handler of cold migrations. The row follows the instance: it points at the target only
 * once the instance is verified there, and after any failure it points wherever the instance
 * actually is (never a row without its instance). Before the row moves, `carryBackups` archives
 * the container's backups kept on the source (they would go with the source's instance); if that
 * fails, the migration fails and goes back to the source like any other failure.
 */
/** `networkChanged` is told both nodes after a migration (the addresses moved with the instance); it must not throw. */
export function migrationHandlers(db: DataSource, gateway: NodeGateway, nodes: MigrationNodes, log: Logger, carryBackups: BackupCarrier, networkChanged: (nodeId: string) => Promise<void> = async () => {}): Record<string, OperationHandler> {
  async function load(operation: Operation) {
    const container = await db.manager.findOneBy(Container, { id: operation.containerId! });
    if (!container) throw new CorralError(ErrorCode.NOT_FOUND, 'the container is gone');
    const source = await db.manager.findOneByOrFail(Node, { id: operation.nodeId ?? container.nodeId });
    const target = await db.manager.findOneBy(Node, { id: String(operation.input.targetNodeId) });
    if (!target) throw new CorralError(ErrorCode.NOT_FOUND, 'the target node is gone');
    return { container, source, target, project: lxdProjectOf(container.projectId) };
  }

  /** Whether the container ran before the migration: stored in the operation before it is stopped, so that recovery knows. */
  async function rememberRunning(operation: Operation, running: boolean): Promise<boolean> {
    if (typeof operation.input.wasRunning === 'boolean') return operation.input.wasRunning;
    operation.input = { ...operation.input, wasRunning: running };
    await db.manager.update(Operation, { id: operation.id }, { input: operation.input as never });
    return running;
  }

  /** Starts the container where its row points if it ran before, and sets its status from the node. */
  async function restore(containerId: string, wasRunning: boolean) {
    const container = await db.manager.findOneByOrFail(Container, { id: containerId });
    const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
    const project = lxdProjectOf(container.projectId);
    if (wasRunning) await gateway.setState(node, project, container.name, 'start', false);
    const status = await gateway.instanceStatus(node, project, container.name);
    await db.manager.update(Container, { id: container.id }, status === null ? { status: ContainerStatus.ERROR, statusReason: 'the instance is missing on its node' } : { status: statusFromLxd(status), statusReason: null });
  }

  /**
   * Looks where the instance actually is and points the row there. On the source (whether or not
   * a copy reached the target): the row stays on the source and a partial copy is removed. Only
   * on the target: the row moves there. Returns where it is.
   */
  async function settleWhere(operation: Operation): Promise<'source' | 'target' | 'nowhere'> {
    const { container, source, target, project } = await load(operation);
    const [onSource, onTarget] = await Promise.all([gateway.instanceStatus(source, project, container.name), gateway.instanceStatus(target, project, container.name)]);
    if (onSource !== null) {
      if (container.nodeId === target.id && onTarget !== null) {
        // The row already moved (the copy was verified): finish by removing the source.
        await nodes.removeInstance(source, project, container.name);
        return 'target';
      }
      await db.manager.update(Container, { id: container.id }, { nodeId: source.id });
      if (onTarget !== null) await nodes.removeInstance(target, project, container.name);
      return 'source';
    }
    if (onTarget !== null) {
      await db.manager.update(Container, { id: container.id }, { nodeId: target.id });
      return 'target';
    }
    return 'nowhere';
  }

  const migrate: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const { container, source, target, project } = await load(operation);
      const cluster = await db.manager.findOneByOrFail(Cluster, { id: target.clusterId });
      const image = await db.manager.findOneBy(Image, { id: container.imageId });
      let what = 'reading the container';
      try {
        const status = await gateway.instanceStatus(source, project, container.name);
        if (status === null) throw new CorralError(ErrorCode.CONFLICT, `the instance is missing on node ${source.name}`);
        const wasRunning = await rememberRunning(operation, status === 'Running');

        what = 'stopping the container';
        await step.progress(10, `stopping the container on ${source.name}`);
        await db.manager.update(Container, { id: container.id }, { status: ContainerStatus.STOPPING, statusReason: null });
        await gateway.setState(source, project, container.name, 'stop', false);
        await db.manager.update(Container, { id: container.id }, { status: ContainerStatus.STOPPED });

        what = 'preparing the target node';
        await step.progress(20, `preparing the project on ${target.name}`);
        await gateway.ensureProject(target, project, cluster.storagePool);
        await prepareNicNetworks(db.manager, gateway, target, container);
        if (image) {
          await step.progress(25, `copying the image to ${target.name}`);
          await gateway.ensureImage(target, image);
        }

        what = 'moving the container';
        await step.progress(30, `moving the container to ${target.name}${operation.input.mode === MigrationMode.PUSH ? ' (push)' : ''}`);
        await nodes.copyInstance(source, target, project, container.name, MOVE_DEADLINE_MS, operation.input.mode === MigrationMode.PUSH ? MigrationMode.PUSH : MigrationMode.PULL);
        await step.progress(80, 'checking the container on the target');
        if ((await gateway.instanceStatus(target, project, container.name)) === null) {
          throw new CorralError(ErrorCode.LXD_ERROR, `the container is missing on node ${target.name} after the move`);
        }
        // Deleting the source deletes its backups: every one is archived first, while the row still
        // points at the source (a crash here is recovered by migrating again; archived ones stay archived).
        what = "archiving the container's backups";
        await carryBackups(container, source, step, 82);
        // The row follows the verified copy first, so that the source's delete event concerns no row.
        await db.manager.update(Container, { id: container.id }, { nodeId: target.id });

        what = 'removing the container from the source';
        await step.progress(85, `removing the container from ${source.name}`);
        await nodes.removeInstance(source, project, container.name);
        if ((await gateway.instanceStatus(source, project, container.name)) !== null) {
          throw new CorralError(ErrorCode.LXD_ERROR, `the container is still on node ${source.name} after the move`);
        }

        what = 'starting the container on the target';
        if (wasRunning) await step.progress(90, `starting the container on ${target.name}`);
        await restore(container.id, wasRunning);
      } catch (error) {
        const failure = nodeFailure(error, what);
        log.warn({ operation: operation.id, container: container.id, err: failure.message }, 'a migration failed');
        throw failure;
      }
      // The routed eth0 (addresses and host name) moved with the instance: both nodes' rules change.
      await networkChanged(source.id);
      await networkChanged(target.id);
    },
    /** Corral stopped mid-migration: decide by where the instance actually is, then finish or go back. */
    async recover(operation: Operation, step: Step) {
      const fresh = (await db.manager.findOneBy(Operation, { id: operation.id })) ?? operation;
      const wasRunning = fresh.input.wasRunning === true;
      await step.progress(50, 'looking where the container is');
      let where;
      try {
        where = await settleWhere(fresh);
      } catch (error) {
        throw nodeFailure(error, 'looking where the container is');
      }
      if (where === 'target') {
        try {
          await restore(fresh.containerId!, wasRunning);
        } catch (error) {
          throw nodeFailure(error, 'starting the container on the target');
        }
        await networkChanged(String(fresh.input.targetNodeId));
        if (fresh.nodeId) await networkChanged(fresh.nodeId);
        return;
      }
      if (where === 'nowhere') throw new CorralError(ErrorCode.LXD_ERROR, 'the container is on neither node');
      // Still on the source, any partial copy removed: migrate again from the start.
      await migrate.run(fresh, step);
    },
    async onFailure(operation: Operation) {
      const fresh = (await db.manager.findOneBy(Operation, { id: operation.id })) ?? operation;
      const where = await settleWhere(fresh);
      if (where === 'nowhere') {
        await db.manager.update(Container, { id: fresh.containerId! }, { status: ContainerStatus.ERROR, statusReason: 'the migration failed and the instance is on neither node' });
        return;
      }
      await restore(fresh.containerId!, fresh.input.wasRunning === true);
    },
  };
  return { [MIGRATE]: migrate };
}
