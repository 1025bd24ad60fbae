import type { Readable } from 'node:stream';
import { LxdError } from '../lxd/errors';
import { copyInstance, createBackup, deleteBackup, exportBackup, getBackup, importBackup, refreshInstance } from '../lxd/backups';
import { deleteInstance } from '../lxd/instances';
import { LxdGateway } from '../nodes/lxd-gateway';
import type { NodeGateway } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';

/** A backup tarball being read from its node. */
export interface BackupStream {
  size: number | null;
  body: Readable;
}

/**
 * What backups ask of a node, beyond the node gateway's own calls. Every method is bounded in
 * time and safe to repeat.
 */
export interface BackupNodes {
  /** Takes backup `backup` of the instance and waits for it. */
  createBackup(node: Node, project: string, instance: string, backup: string, deadlineMs: number): Promise<void>;
  backupExists(node: Node, project: string, instance: string, backup: string): Promise<boolean>;
  /** A missing backup counts as deleted. */
  deleteBackup(node: Node, project: string, instance: string, backup: string): Promise<void>;
  /** The gzip tarball; null when the backup is not on the node. */
  exportBackup(node: Node, project: string, instance: string, backup: string): Promise<BackupStream | null>;
  /** A new, stopped instance `name` from a tarball file, in the storage pool `pool`. */
  importBackup(node: Node, project: string, name: string, pool: string, file: string, deadlineMs: number): Promise<void>;
  /** Replaces the data of the stopped instance `target` with that of `source`; target's config, identity and backups stay. */
  refreshFrom(node: Node, project: string, target: string, source: string, deadlineMs: number): Promise<void>;
  /**
   * Copies the stopped instance `source` to a new instance `name` on the same node, with `config`
   * and `devices` over the source's own. The copy gets a new `volatile.uuid` and cloud-init
   * instance-id (LXD-NOTES section 7).
   */
  copyInstance(node: Node, project: string, source: string, name: string, config: Record<string, string>, devices: Record<string, Record<string, string>>, deadlineMs: number): Promise<void>;
  /** Deletes an instance (stopping it first); a missing one counts as deleted. */
  removeInstance(node: Node, project: string, name: string): Promise<void>;
}

/** LXD's backup API from Corral's pinned clients (LXD-NOTES section 6). */
export class LxdBackupGateway implements BackupNodes {
  constructor(private readonly lxd: Pick<LxdGateway, 'clientFor'>) {}

  async createBackup(node: Node, project: string, instance: string, backup: string, deadlineMs: number) {
    await createBackup(await this.lxd.clientFor(node), project, instance, backup, deadlineMs);
  }

  async backupExists(node: Node, project: string, instance: string, backup: string) {
    return (await getBackup(await this.lxd.clientFor(node), project, instance, backup)) !== null;
  }

  async deleteBackup(node: Node, project: string, instance: string, backup: string) {
    await deleteBackup(await this.lxd.clientFor(node), project, instance, backup);
  }

  async exportBackup(node: Node, project: string, instance: string, backup: string) {
    return exportBackup(await this.lxd.clientFor(node), project, instance, backup);
  }

  async importBackup(node: Node, project: string, name: string, pool: string, file: string, deadlineMs: number) {
    await importBackup(await this.lxd.clientFor(node), project, name, pool, file, deadlineMs);
  }

  async refreshFrom(node: Node, project: string, target: string, source: string, deadlineMs: number) {
    await refreshInstance(await this.lxd.clientFor(node), project, target, source, deadlineMs);
  }

  async copyInstance(node: Node, project: string, source: string, name: string, config: Record<string, string>, devices: Record<string, Record<string, string>>, deadlineMs: number) {
    await copyInstance(await this.lxd.clientFor(node), project, source, name, { config, devices }, deadlineMs);
  }


  async removeInstance(node: Node, project: string, name: string) {
    await deleteInstance(await this.lxd.clientFor(node), project, name);
  }
}

/** Test doubles of the node gateway (test/support/fake-gateway.ts) may carry their own `backups`. */
export function backupNodesFor(gateway: NodeGateway): BackupNodes {
  if (gateway instanceof LxdGateway) return new LxdBackupGateway(gateway);
  const carried = (gateway as { backups?: BackupNodes }).backups;
  if (carried) return carried;
  const unsupported = async (): Promise<never> => {
    throw new LxdError('this node gateway cannot take backups', { status: 501, lxdCode: 0 });
  };
  return {
    createBackup: unsupported,
    backupExists: unsupported,
    deleteBackup: unsupported,
    exportBackup: unsupported,
    importBackup: unsupported,
    refreshFrom: unsupported,
    copyInstance: unsupported,
    removeInstance: unsupported,
  };
}
