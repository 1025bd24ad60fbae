import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { In, type DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import { Cluster } from '../clusters/cluster.entity';
import { Container, ContainerStatus } from '../containers/container.entity';
import { statusFromLxd } from '../containers/container.operations';
import { lxdProjectOf, type NodeGateway } from '../nodes/node-gateway';
import { Node } from '../nodes/node.entity';
import type { Operation } from '../operations/operation.entity';
import type { OperationHandler, Step } from '../operations/runner';
import type { BackupArchive } from './backup-archive';
import { BackupSchedule } from './backup-schedule.entity';
import { BackupLocation, BackupState, ContainerBackup } from './backup.entity';
import type { BackupNodes } from './backups.gateway';
import { BACKUP_CREATE, BACKUP_DELETE, BACKUP_RESTORE, BACKUP_RESTORE_AS_NEW, markMissing } from './backups.service';
import { nodeFailure } from '../operations/node-failure';
import { addressNodesFor } from '../network/addresses.gateway';
import { applyRecordedAddresses } from '../network/addresses.operations';

/** Deadline for LXD's backup, import and refresh operations (they copy a whole root filesystem). */
const DEADLINE_MS = 10 * 60_000;

/** The temporary instance a restore in place imports into: derived from the operation, so a recovery finds it again. */
export const restoreTempName = (operationId: string) => `corral-restore-${operationId.replaceAll('-', '').slice(-12)}`;

/** The handlers of backup operations. */
export function backupHandlers(db: DataSource, gateway: NodeGateway, nodes: BackupNodes, archive: BackupArchive, log: Logger): Record<string, OperationHandler> {
  async function backupOf(id: unknown): Promise<ContainerBackup> {
    const backup = typeof id === 'string' ? await db.manager.findOneBy(ContainerBackup, { id }) : null;
    if (!backup) throw new CorralError(ErrorCode.NOT_FOUND, 'the backup is gone');
    return backup;
  }
  async function containerOf(id: string | null) {
    const container = id ? await db.manager.findOneBy(Container, { id }) : null;
    if (!container) throw new CorralError(ErrorCode.NOT_FOUND, 'the container is gone');
    const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
    const cluster = await db.manager.findOneByOrFail(Cluster, { id: node.clusterId });
    return { container, node, pool: cluster.storagePool, project: lxdProjectOf(container.projectId) };
  }

  /**
   * Streams the backup from its node into a temporary file (LXD-NOTES section 6: export, then a
   * chunked import). An archived one is imported from its archive file as it is, once its SHA-256
   * is checked (a missing or damaged file marks it MISSING).
   */
  async function exportToFile(backup: ContainerBackup, project: string): Promise<{ file: string; done(): void }> {
    if (backup.location === BackupLocation.ARCHIVE) {
      if (!(await archive.intact(backup.id, backup.sha256))) throw await markMissing(db, backup);
      return { file: archive.pathOf(backup.id), done: () => undefined };
    }
    const node = await db.manager.findOneByOrFail(Node, { id: backup.nodeId });
    const stream = await nodes.exportBackup(node, project, backup.instanceName, backup.lxdName);
    if (!stream) throw await markMissing(db, backup);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-backup-'));
    const file = path.join(dir, 'backup.tar.gz');
    const done = () => fs.rmSync(dir, { recursive: true, force: true });
    try {
      await pipeline(stream.body, fs.createWriteStream(file));
    } catch (error) {
      done();
      throw error;
    }
    return { file, done };
  }

  /**
   * Deletes the schedule's oldest backups beyond its `keep`, counting the one just taken (`fresh`,
   * not yet READY: it becomes READY only after the pruning, so that Corral never shows more than
   * `keep`). Failed and missing scheduled backups go too.
   */
  async function prune(scheduleId: string, fresh: string, step: Step) {
    const schedule = await db.manager.findOneBy(BackupSchedule, { id: scheduleId });
    if (!schedule) return;
    const rows = await db.manager.find(ContainerBackup, {
      where: { scheduleId, state: In([BackupState.READY, BackupState.FAILED, BackupState.MISSING]) },
      order: { id: 'DESC' },
    });
    const kept = new Set([fresh, ...rows.filter((b) => b.state === BackupState.READY && b.id !== fresh).slice(0, schedule.keep - 1).map((b) => b.id)]);
    const old = rows.filter((b) => !kept.has(b.id));
    if (old.length) await step.progress(90, `deleting ${old.length} old scheduled backup(s)`);
    for (const backup of old) {
      if (backup.location === BackupLocation.ARCHIVE) {
        await archive.remove(backup.id);
        await db.manager.delete(ContainerBackup, { id: backup.id });
        continue;
      }
      const node = await db.manager.findOneBy(Node, { id: backup.nodeId });
      const container = await db.manager.findOneBy(Container, { id: backup.containerId });
      if (node && container && backup.state === BackupState.READY) await nodes.deleteBackup(node, lxdProjectOf(container.projectId), backup.instanceName, backup.lxdName);
      await db.manager.delete(ContainerBackup, { id: backup.id });
    }
  }

  const create: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const backup = await backupOf(operation.input.backupId);
      const { container } = await containerOf(operation.containerId);
      const node = await db.manager.findOneByOrFail(Node, { id: backup.nodeId });
      const project = lxdProjectOf(container.projectId);
      let what = 'taking the backup';
      try {
        await step.progress(10, `backing up ${container.name} on ${node.name}`);
        // A recovery finds the backup already taken: LXD creates it whole or not at all.
        if (!(await nodes.backupExists(node, project, backup.instanceName, backup.lxdName))) {
          await nodes.createBackup(node, project, backup.instanceName, backup.lxdName, DEADLINE_MS);
        }
        what = 'reading the backup size';
        await step.progress(80, 'checking the backup');
        const stream = await nodes.exportBackup(node, project, backup.instanceName, backup.lxdName);
        if (!stream) throw new CorralError(ErrorCode.LXD_ERROR, 'the backup is missing right after it was taken');
        stream.body.destroy();
        if (backup.scheduleId) {
          what = 'deleting old scheduled backups';
          await prune(backup.scheduleId, backup.id, step);
        }
        await db.manager.update(ContainerBackup, { id: backup.id }, { state: BackupState.READY, sizeBytes: stream.size });
      } catch (error) {
        throw nodeFailure(error, what);
      }
    },
    recover: (operation, step) => create.run(operation, step),
    async onFailure(operation: Operation) {
      const backup = await db.manager.findOneBy(ContainerBackup, { id: String(operation.input.backupId) });
      if (!backup || backup.state === BackupState.READY) return;
      await db.manager.update(ContainerBackup, { id: backup.id }, { state: BackupState.FAILED });
      const container = await db.manager.findOneBy(Container, { id: backup.containerId });
      const node = await db.manager.findOneBy(Node, { id: backup.nodeId });
      // Best effort: a half-made backup is not worth keeping on the node.
      if (container && node) await nodes.deleteBackup(node, lxdProjectOf(container.projectId), backup.instanceName, backup.lxdName).catch(() => undefined);
    },
  };

  const remove: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const backup = await db.manager.findOneBy(ContainerBackup, { id: String(operation.input.id) });
      if (!backup) return;
      await step.progress(30, 'deleting the backup');
      if (backup.location === BackupLocation.ARCHIVE) {
        // The file first: a crash in between leaves the row, and the next attempt finds no file to remove.
        await archive.remove(backup.id);
        await db.manager.delete(ContainerBackup, { id: backup.id });
        return;
      }
      const container = await db.manager.findOneBy(Container, { id: backup.containerId });
      const node = await db.manager.findOneByOrFail(Node, { id: backup.nodeId });
      try {
        if (container) await nodes.deleteBackup(node, lxdProjectOf(container.projectId), backup.instanceName, backup.lxdName);
      } catch (error) {
        throw nodeFailure(error, 'deleting the backup');
      }
      await db.manager.delete(ContainerBackup, { id: backup.id });
    },
    recover: (operation, step) => remove.run(operation, step),
    async onFailure(operation: Operation) {
      await db.manager.update(ContainerBackup, { id: String(operation.input.id), state: BackupState.DELETING }, { state: BackupState.READY });
    },
  };

  /** Sets a container's status from its instance (after a restore, whichever way it went). */
  async function settle(containerId: string | null) {
    const container = containerId ? await db.manager.findOneBy(Container, { id: containerId }) : null;
    if (!container) return;
    const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
    const status = await gateway.instanceStatus(node, lxdProjectOf(container.projectId), container.name);
    await db.manager.update(Container, { id: container.id }, status === null ? { status: ContainerStatus.ERROR, statusReason: 'the instance is missing on its node' } : { status: statusFromLxd(status), statusReason: null });
  }

  /**
   * Restore in place. LXD cannot restore onto an existing instance, and deleting the instance to
   * make room would delete all its other backups with it (LXD does, verified). So the backup is
   * imported under a temporary name and the container's data is refreshed from it (a refresh
   * copy): the container keeps its config (Corral's limits), identity and other backups. Until
   * the refresh starts the container is untouched; from then on every step can be repeated, so a
   * recovery simply runs it again.
   */
  const restore: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const backup = await backupOf(operation.input.id);
      const { container, node, pool, project } = await containerOf(operation.containerId);
      const temp = restoreTempName(operation.id);
      let what = 'checking the container';
      try {
        const status = await gateway.instanceStatus(node, project, container.name);
        if (status === null) throw new CorralError(ErrorCode.CONFLICT, `the instance is missing on node ${node.name}`);
        if (status !== 'Stopped') throw new CorralError(ErrorCode.CONTAINER_RUNNING, `the container is ${status.toLowerCase()} on its node: stop it first`);
        what = 'exporting the backup';
        await step.progress(10, backup.location === BackupLocation.ARCHIVE ? 'checking the archived backup' : 'exporting the backup from its node');
        const exported = await exportToFile(backup, project);
        try {
          what = 'importing the backup';
          await step.progress(40, 'importing the backup under a temporary name');
          await nodes.removeInstance(node, project, temp);
          await nodes.importBackup(node, project, temp, pool, exported.file, DEADLINE_MS);
        } finally {
          exported.done();
        }
        what = "replacing the container's data";
        await step.progress(70, "replacing the container's data with the backup's");
        await nodes.refreshFrom(node, project, container.name, temp, DEADLINE_MS);
        what = 'removing the temporary instance';
        await step.progress(90, 'removing the temporary instance');
        await nodes.removeInstance(node, project, temp);
        // The backup's eth0 may carry addresses the container no longer has: it keeps its current ones.
        what = 'setting the addresses';
        await applyRecordedAddresses(db, addressNodesFor(gateway), node, container);
      } catch (error) {
        const failure = nodeFailure(error, what);
        log.warn({ operation: operation.id, container: container.id, err: failure.message }, 'a restore failed');
        throw failure;
      }
      await db.manager.update(Container, { id: container.id }, { status: ContainerStatus.STOPPED, statusReason: null });
    },
    recover: (operation, step) => restore.run(operation, step),
    async onFailure(operation: Operation) {
      const container = operation.containerId ? await db.manager.findOneBy(Container, { id: operation.containerId }) : null;
      if (!container) return;
      const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
      await nodes.removeInstance(node, lxdProjectOf(container.projectId), restoreTempName(operation.id));
      await settle(container.id);
    },
  };

  /**
   * Restore as a new container: import under a temporary name, then copy that to the new name
   * with Corral's limits (the copy gets a new identity: a restricted project forbids PATCHing
   * `volatile.uuid`, verified on LXD 5.0.2), remove the temporary instance and start the copy.
   */
  const restoreAsNew: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const backup = await backupOf(operation.input.id);
      const { container, node, pool, project } = await containerOf(operation.containerId);
      const temp = restoreTempName(operation.id);
      let what = 'preparing the node';
      try {
        await step.progress(10, 'preparing the project on the node');
        await gateway.ensureProject(node, project, pool);
        what = 'exporting the backup';
        await step.progress(20, backup.location === BackupLocation.ARCHIVE ? 'checking the archived backup' : 'exporting the backup from its node');
        const exported = await exportToFile(backup, project);
        try {
          what = 'importing the backup';
          await step.progress(45, 'importing the backup under a temporary name');
          await nodes.importBackup(node, project, temp, pool, exported.file, DEADLINE_MS);
        } finally {
          exported.done();
        }
        what = 'copying it with a new identity';
        await step.progress(70, `copying it to ${container.name} with a new identity`);
        await nodes.copyInstance(
          node,
          project,
          temp,
          container.name,
          { 'limits.cpu': String(container.cpu), 'limits.memory': `${container.memoryBytes}B` },
          { root: { type: 'disk', path: '/', pool, size: `${container.diskBytes}B` } },
          DEADLINE_MS,
        );
        what = 'removing the temporary instance';
        await step.progress(80, 'removing the temporary instance');
        await nodes.removeInstance(node, project, temp);
        // The copy carries the original's eth0 (its addresses, its host-side name); the new container has none.
        what = 'taking the original addresses off';
        await applyRecordedAddresses(db, addressNodesFor(gateway), node, container);
        what = 'starting the container';
        await step.progress(85, 'starting the container');
        await gateway.setState(node, project, container.name, 'start', false);
      } catch (error) {
        throw nodeFailure(error, what);
      }
      await db.manager.update(Container, { id: container.id }, { status: ContainerStatus.RUNNING, statusReason: null });
    },
    async recover() {
      // Like a create: undo (onFailure) rather than guess how far it got.
      throw new CorralError(ErrorCode.INTERRUPTED, 'Corral stopped while restoring the backup as a new container; it was removed again');
    },
    async onFailure(operation: Operation) {
      const container = operation.containerId ? await db.manager.findOneBy(Container, { id: operation.containerId }) : null;
      if (!container) return;
      const node = await db.manager.findOneByOrFail(Node, { id: container.nodeId });
      try {
        await nodes.removeInstance(node, lxdProjectOf(container.projectId), restoreTempName(operation.id));
        await nodes.removeInstance(node, lxdProjectOf(container.projectId), container.name);
        await db.manager.delete(Container, { id: container.id });
      } catch (error) {
        log.error({ err: error, container: container.id }, 'could not remove a half-restored container from its node');
        await db.manager.update(Container, { id: container.id }, { status: ContainerStatus.ERROR, statusReason: 'the restore failed and the node could not be cleaned up' });
      }
    },
  };

  return { [BACKUP_CREATE]: create, [BACKUP_DELETE]: remove, [BACKUP_RESTORE]: restore, [BACKUP_RESTORE_AS_NEW]: restoreAsNew };
}
