import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import type { Container } from '../containers/container.entity';
import { lxdProjectOf } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';
import type { Step } from '../operations/runner';
import { ArchiveWriteError, type BackupArchive } from './backup-archive';
import { BackupLocation, BackupState, ContainerBackup } from './backup.entity';
import type { BackupNodes } from './backups.gateway';

/**
 * Carries a container's backups off a node before its instance there is deleted (LXD deletes an
 * instance's backups with it, and cannot attach a tarball to another instance): every READY
 * backup the node still keeps for the container is streamed into Corral's archive.
 * Returns how many were archived. Throws, having deleted nothing, when one cannot be archived.
 */
export type BackupCarrier = (container: Container, source: Node, step: Step, percent: number) => Promise<number>;

/**
 * The carrier of migrations and drains. Per backup, in order: the node's export streamed into the
 * archive (temporary file, fsync, rename, fsync of the directory), then the row says ARCHIVE with
 * the file's size and SHA-256, then (best effort) the node's copy is deleted. So a backup is
 * always somewhere a row points at: a crash before the row changes leaves it on the node (the
 * instance is only deleted after the carrier returned), and a re-run carries what is still NODE.
 */
export function backupCarrier(db: DataSource, nodes: BackupNodes, archive: BackupArchive, log: Logger): BackupCarrier {
  return async (container, source, step, percent) => {
    const project = lxdProjectOf(container.projectId);
    const backups = await db.manager.find(ContainerBackup, {
      where: { containerId: container.id, nodeId: source.id, location: BackupLocation.NODE, state: BackupState.READY },
      order: { id: 'ASC' },
    });
    let archived = 0;
    for (const [i, backup] of backups.entries()) {
      await step.progress(percent, `archiving backup ${i + 1} of ${backups.length} from ${source.name}`);
      const stream = await nodes.exportBackup(source, project, backup.instanceName, backup.lxdName);
      if (!stream) {
        // Deleted behind Corral's back: nothing to carry; it would be found MISSING on first use anyway.
        await db.manager.update(ContainerBackup, { id: backup.id }, { state: BackupState.MISSING });
        log.warn({ backup: backup.id, node: source.name }, 'a backup to archive was no longer on its node; marked MISSING');
        continue;
      }
      let file;
      try {
        file = await archive.store(backup.id, stream.body, stream.size);
      } catch (error) {
        if (error instanceof ArchiveWriteError) throw new CorralError(ErrorCode.BACKUP_ARCHIVE_FAILED, `archiving backup ${backup.id} failed: ${error.message}`);
        throw error;
      }
      await db.manager.update(ContainerBackup, { id: backup.id, location: BackupLocation.NODE }, { location: BackupLocation.ARCHIVE, sizeBytes: file.sizeBytes, sha256: file.sha256 });
      archived++;
      // The node's copy would go with the instance; deleting it now keeps one backup in one place if the migration fails later.
      await nodes.deleteBackup(source, project, backup.instanceName, backup.lxdName).catch((error: unknown) => {
        log.warn({ err: error, backup: backup.id, node: source.name }, 'an archived backup could not be deleted from its node (it goes with the instance)');
      });
    }
    return archived;
  };
}
