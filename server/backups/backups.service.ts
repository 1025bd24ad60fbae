import { In, type DataSource, type EntityManager } from 'typeorm';
import { visibleContainer, inScope } from '../accounts/access';
import type { Account } from '../accounts/account.entity';
import type { Project } from '../accounts/project.entity';
import type { Actor, RequestMeta } from '../app/actor';
import { badInput, conflict, CorralError, ErrorCode, notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { Cluster } from '../clusters/cluster.entity';
import { isId, newId } from '../common/ids';
import { paginate, type Connection, type PageArgs } from '../common/pagination';
import { Container, ContainerStatus } from '../containers/container.entity';
import { placeContainer } from '../containers/placement';
import { replayedContainer } from '../containers/replay';
import type { LicencesService } from '../licences/licences.service';
import { lxdProjectOf } from '../nodes/node-gateway';
import { Node, NodeStatus } from '../nodes/node.entity';
import type { NodesService } from '../nodes/nodes.service';
import { Operation, OperationState } from '../operations/operation.entity';
import { ACTIVE_STATES, type OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { checkCron } from './backup-cron';
import type { BackupArchive } from './backup-archive';
import { BackupSchedule } from './backup-schedule.entity';
import { BackupLocation, BackupState, ContainerBackup } from './backup.entity';
import type { BackupNodes, BackupStream } from './backups.gateway';

export const BACKUP_CREATE = 'backup.create';
export const BACKUP_DELETE = 'backup.delete';
export const BACKUP_RESTORE = 'backup.restore';
export const BACKUP_RESTORE_AS_NEW = 'backup.restoreAsNew';
export const SCHEDULE_SET = 'backupSchedule.set';
export const SCHEDULE_REMOVE = 'backupSchedule.remove';

/** Statuses in which a container is busy with a lifecycle change of its own. */
const BUSY = [ContainerStatus.CREATING, ContainerStatus.DELETING, ContainerStatus.STARTING, ContainerStatus.STOPPING];

type VisibleContainer = Container & { project: Project & { account: Account } };

/** LXD's name for a backup: short, unique per node, and recognisably Corral's. */
export const lxdNameOf = (backupId: string) => `corral-${backupId.replaceAll('-', '').slice(-12)}`;

/** Marks a backup MISSING and returns the error that says so. */
export async function markMissing(db: DataSource, backup: ContainerBackup): Promise<CorralError> {
  await db.manager.update(ContainerBackup, { id: backup.id }, { state: BackupState.MISSING });
  const where = backup.location === BackupLocation.ARCHIVE ? "in Corral's archive (missing or damaged)" : 'on its node';
  return new CorralError(ErrorCode.BACKUP_MISSING, `backup ${backup.id} is no longer ${where}; it was marked MISSING`);
}

/**
 * Backups of containers: taken, deleted and restored as operations (one per container at a time,
 * like every container operation), listed from the database, downloaded through Corral, and
 * taken on a schedule with retention.
 */
export class BackupsService {
  runner!: OperationRunner;

  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
    private readonly nodesService: Pick<NodesService, 'allocation'>,
    private readonly licences: LicencesService,
    private readonly nodes: BackupNodes,
    private readonly minIntervalSeconds: number,
    private readonly archive: BackupArchive,
  ) {}

  /** A backup the caller may see; another tenant's is NOT_FOUND. */
  async get(actor: Actor, id: string, em: EntityManager = this.db.manager): Promise<ContainerBackup> {
    const backup = isId(id) ? await em.findOneBy(ContainerBackup, { id }) : null;
    if (!backup || !inScope(actor, backup.accountPath)) throw notFound('Backup');
    return backup;
  }

  /** A container's backups, newest first. */
  async list(actor: Actor, containerId: string, page: PageArgs): Promise<Connection<ContainerBackup>> {
    const container = await visibleContainer(this.db.manager, actor, containerId);
    const qb = this.db.getRepository(ContainerBackup).createQueryBuilder('backup').where('backup.containerId = :containerId', { containerId: container.id });
    return paginate(qb, page, 'DESC');
  }

  /** The schedules of these containers, in one statement (for `Container.backupSchedule` on a page of containers). */
  async schedulesOf(containerIds: readonly string[]): Promise<(BackupSchedule | null)[]> {
    const rows = containerIds.length ? await this.db.manager.findBy(BackupSchedule, { containerId: In([...containerIds]) }) : [];
    const byContainer = new Map(rows.map((row) => [row.containerId, row]));
    return containerIds.map((id) => byContainer.get(id) ?? null);
  }

  /** Operations by id, in one statement (for `Backup.operation` on a page of backups). */
  async operationsOf(ids: readonly string[]): Promise<(Operation | null)[]> {
    const rows = ids.length ? await this.db.manager.findBy(Operation, { id: In([...ids]) }) : [];
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /**
   * Records a `backup.create` operation and a CREATING backup, and runs it in the background;
   * returns the backup at once (follow `state` or `operation`). The container may run.
   */
  async create(actor: Actor, containerId: string, idempotencyKey?: string | null): Promise<ContainerBackup> {
    const input = { containerId };
    const { backup, operation } = await this.audit.within({ actor, request: actor.request }, BACKUP_CREATE, async (em, draft) => {
      draft.target('container', containerId);
      const container = await visibleContainer(em, actor, containerId);
      draft.concerns(container.project.account);
      const replay = await this.operations.replayOf(em, container.project.account, idempotencyKey, BACKUP_CREATE, input);
      if (replay) return { backup: await this.replayedBackup(em, replay), operation: null };
      const recorded = await this.recordCreate(em, actor.userId, container, null, idempotencyKey);
      draft.target('backup', recorded.backup.id);
      return recorded;
    });
    if (operation) this.runner.kick(operation.id);
    return backup;
  }

  /** The scheduler's way in: a `backup.create` with the schedule's due time as idempotency key (one per run, whatever the number of Corral processes). */
  async createScheduled(schedule: BackupSchedule, dueAt: Date): Promise<void> {
    const request: RequestMeta = { id: newId(), sourceAddress: null };
    const { operation } = await this.audit.within({ actor: null, request }, BACKUP_CREATE, async (em, draft) => {
      draft.target('container', schedule.containerId);
      const container = await em.findOne(Container, { where: { id: schedule.containerId }, relations: { project: { account: true } } });
      if (!container?.project?.account) throw notFound('Container');
      draft.concerns(container.project.account);
      const key = `schedule:${schedule.id}:${dueAt.toISOString()}`;
      if (await this.operations.replayOf(em, container.project.account, key, BACKUP_CREATE, { containerId: container.id })) return { operation: null };
      const recorded = await this.recordCreate(em, null, container as VisibleContainer, schedule.id, key);
      draft.target('backup', recorded.backup.id);
      return recorded;
    });
    if (operation) this.runner.kick(operation.id);
  }

  private async recordCreate(em: EntityManager, actorUserId: string | null, container: VisibleContainer, scheduleId: string | null, idempotencyKey?: string | null) {
    if (container.status === ContainerStatus.CREATING || container.status === ContainerStatus.DELETING) {
      throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the container is ${container.status.toLowerCase()}`);
    }
    await this.nodeAvailable(em, container.nodeId);
    const account = container.project.account;
    const input = { containerId: container.id };
    // The operation records the request as given; the backup's id joins its input afterwards, so that a replay hashes the same.
    const operation = await this.operations.record(em, { userId: actorUserId } as Actor, { account, action: BACKUP_CREATE, containerId: container.id, nodeId: container.nodeId, input, idempotencyKey });
    const id = newId();
    const backup = em.create(ContainerBackup, {
      id,
      containerId: container.id,
      accountId: account.id,
      accountPath: account.path,
      nodeId: container.nodeId,
      instanceName: container.name,
      lxdName: lxdNameOf(id),
      state: BackupState.CREATING,
      sizeBytes: null,
      scheduleId,
      operationId: operation.id,
    });
    await em.insert(ContainerBackup, backup);
    operation.input = { ...input, backupId: id };
    await em.update(Operation, { id: operation.id }, { input: operation.input as never });
    return { backup: (await em.findOneByOrFail(ContainerBackup, { id })) as ContainerBackup, operation: operation as Operation | null };
  }

  /** Deletes a backup from its node and from Corral (an operation of its container). A MISSING or FAILED one just goes. */
  async delete(actor: Actor, id: string, idempotencyKey?: string | null): Promise<ContainerBackup> {
    const input = { id };
    const { backup, operation } = await this.audit.within({ actor, request: actor.request }, BACKUP_DELETE, async (em, draft) => {
      draft.target('backup', id);
      const found = await this.get(actor, id, em);
      const container = await visibleContainer(em, actor, found.containerId);
      draft.concerns(container.project.account);
      const replay = await this.operations.replayOf(em, container.project.account, idempotencyKey, BACKUP_DELETE, input);
      if (replay) return { backup: await this.replayedBackup(em, replay), operation: null };
      await this.notBusy(em, found);
      const recorded = await this.operations.record(em, actor, { account: container.project.account, action: BACKUP_DELETE, containerId: container.id, nodeId: found.nodeId, input, idempotencyKey });
      await em.update(ContainerBackup, { id }, { state: BackupState.DELETING, operationId: recorded.id });
      return { backup: { ...found, state: BackupState.DELETING, operationId: recorded.id } as ContainerBackup, operation: recorded };
    });
    if (operation) this.runner.kick(operation.id);
    return backup;
  }

  /**
   * Restores a backup onto its own container, which must be stopped (CONTAINER_RUNNING
   * otherwise, and nothing changes). Returns the container; follow `operation`.
   */
  async restore(actor: Actor, id: string, idempotencyKey?: string | null): Promise<Container> {
    const input = { id };
    const { container, operation } = await this.audit.within({ actor, request: actor.request }, BACKUP_RESTORE, async (em, draft) => {
      draft.target('backup', id);
      const backup = await this.get(actor, id, em);
      const container = await visibleContainer(em, actor, backup.containerId);
      draft.concerns(container.project.account);
      const replay = await this.operations.replayOf(em, container.project.account, idempotencyKey, BACKUP_RESTORE, input);
      if (replay) return { container: await replayedContainer(em, replay), operation: null };
      this.restorable(backup);
      await this.notBusy(em, backup);
      if (BUSY.includes(container.status)) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the container is ${container.status.toLowerCase()}`);
      if (container.status === ContainerStatus.RUNNING) {
        throw new CorralError(ErrorCode.CONTAINER_RUNNING, 'the container is running: stop it first, then restore the backup');
      }
      if (container.status !== ContainerStatus.STOPPED) throw conflict(`the container is ${container.status.toLowerCase()}; it must be STOPPED to restore a backup`);
      await this.nodeAvailable(em, container.nodeId);
      if (backup.location === BackupLocation.NODE && backup.nodeId !== container.nodeId) await this.nodeAvailable(em, backup.nodeId);
      const recorded = await this.operations.record(em, actor, { account: container.project.account, action: BACKUP_RESTORE, containerId: container.id, nodeId: container.nodeId, input, idempotencyKey });
      await em.update(ContainerBackup, { id }, { operationId: recorded.id });
      return { container: container as Container, operation: recorded };
    });
    if (operation) this.runner.kick(operation.id);
    return container;
  }

  /**
   * Restores a backup as a new container `name` in the same project, placed like
   * `createContainer` (licence, then the cluster's node with most room), with a new identity.
   */
  async restoreAsNew(actor: Actor, id: string, name: string, idempotencyKey?: string | null): Promise<Container> {
    const input = { id, name };
    const { container, operation } = await this.audit.within({ actor, request: actor.request }, BACKUP_RESTORE_AS_NEW, async (em, draft) => {
      draft.target('backup', id);
      const backup = await this.get(actor, id, em);
      const source = await visibleContainer(em, actor, backup.containerId);
      const account = source.project.account;
      draft.concerns(account);
      const replay = await this.operations.replayOf(em, account, idempotencyKey, BACKUP_RESTORE_AS_NEW, input);
      if (replay) return { container: await replayedContainer(em, replay), operation: null };
      this.restorable(backup);
      await this.notBusy(em, backup);
      if (await em.existsBy(Container, { projectId: source.projectId, name })) throw conflict(`a container named "${name}" already exists in this project`, 'name');
      await this.licences.checkRoomForContainer(em);
      // An archived backup needs no node of its own (the tarball is on the Corral host).
      if (backup.location === BackupLocation.NODE) await this.nodeAvailable(em, backup.nodeId);
      const backupNode = await em.findOneByOrFail(Node, { id: backup.nodeId });
      const spec = { cpu: source.cpu, memoryBytes: source.memoryBytes, diskBytes: source.diskBytes };
      // Placed like a new container: the cluster's READY node with most room. The tarball travels through Corral, so any node will do.
      const cluster = await em.findOneByOrFail(Cluster, { id: backupNode.clusterId });
      const node = await placeContainer(this.nodesService, cluster, await em.findBy(Node, { clusterId: cluster.id }), spec, { named: false, field: 'id' }, em);
      const created = em.create(Container, {
        id: newId(),
        projectId: source.projectId,
        nodeId: node.id,
        name,
        imageId: source.imageId,
        ...spec,
        cpuLimitPercent: null,
        cpuWeight: null,
        status: ContainerStatus.CREATING,
        statusReason: null,
      });
      await em.insert(Container, created);
      const recorded = await this.operations.record(em, actor, { account, action: BACKUP_RESTORE_AS_NEW, containerId: created.id, nodeId: node.id, input, idempotencyKey });
      await em.update(ContainerBackup, { id }, { operationId: recorded.id });
      return { container: created, operation: recorded };
    });
    if (operation) this.runner.kick(operation.id);
    return container;
  }

  /**
   * Sets (or replaces) the container's schedule: `cron` (UTC, 5 fields or 6 with seconds) no
   * more often than the configured minimum interval, `keep` 1–100 scheduled backups.
   */
  async setSchedule(actor: Actor, containerId: string, cron: string, keep: number, enabled: boolean): Promise<Container> {
    return this.audit.within({ actor, request: actor.request }, SCHEDULE_SET, async (em, draft) => {
      draft.target('container', containerId);
      const container = await visibleContainer(em, actor, containerId);
      const account = container.project.account;
      draft.concerns(account);
      if (!Number.isInteger(keep) || keep < 1 || keep > 100) throw badInput('keep must be 1–100', 'keep');
      const nextRunAt = checkCron(cron, this.minIntervalSeconds);
      const existing = await em.findOneBy(BackupSchedule, { containerId: container.id });
      if (existing) {
        await em.update(BackupSchedule, { id: existing.id }, { cron: cron.trim(), keep, enabled, nextRunAt });
      } else {
        await em.insert(BackupSchedule, { id: newId(), containerId: container.id, accountId: account.id, accountPath: account.path, cron: cron.trim(), keep, enabled, lastRunAt: null, nextRunAt });
      }
      draft.target('container', container.id);
      return container as Container;
    });
  }

  /** Removes the container's schedule; its backups stay (as backups taken on request from then on). */
  async removeSchedule(actor: Actor, containerId: string): Promise<Container> {
    return this.audit.within({ actor, request: actor.request }, SCHEDULE_REMOVE, async (em, draft) => {
      draft.target('container', containerId);
      const container = await visibleContainer(em, actor, containerId);
      draft.concerns(container.project.account);
      const schedule = await em.findOneBy(BackupSchedule, { containerId: container.id });
      if (!schedule) throw notFound('BackupSchedule');
      await em.update(ContainerBackup, { scheduleId: schedule.id }, { scheduleId: null });
      await em.delete(BackupSchedule, { id: schedule.id });
      return container as Container;
    });
  }

  /**
   * The tarball of a READY backup, for `GET /backups/:id/download`: streamed from its node, or from
   * Corral's archive file once archived. BACKUP_MISSING (and the row marked so) when it is no
   * longer there.
   */
  async download(actor: Actor, id: string): Promise<{ filename: string; stream: BackupStream }> {
    const backup = await this.get(actor, id);
    const container = await visibleContainer(this.db.manager, actor, backup.containerId);
    this.restorable(backup);
    let stream: BackupStream | null;
    if (backup.location === BackupLocation.ARCHIVE) {
      stream = await this.archive.open(backup.id);
    } else {
      const node = await this.db.manager.findOneByOrFail(Node, { id: backup.nodeId });
      if (node.status === NodeStatus.OFFLINE) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name} is offline`);
      stream = await this.nodes.exportBackup(node, lxdProjectOf(container.projectId), backup.instanceName, backup.lxdName);
    }
    if (!stream) throw await markMissing(this.db, backup);
    const stamp = backup.createdAt.toISOString().replace(/[:.]/g, '-');
    return { filename: `${container.name}-${stamp}.tar.gz`, stream };
  }

  /** Only READY backups can be restored or downloaded. */
  private restorable(backup: ContainerBackup) {
    if (backup.state === BackupState.MISSING) throw new CorralError(ErrorCode.BACKUP_MISSING, 'the backup is no longer where Corral kept it (marked MISSING)');
    if (backup.state === BackupState.CREATING || backup.state === BackupState.DELETING) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the backup is ${backup.state.toLowerCase()}`);
    if (backup.state !== BackupState.READY) throw conflict(`the backup is ${backup.state.toLowerCase()}`);
  }

  /** One operation on a backup at a time (a restore as new runs under the new container's lock, not the source's). */
  private async notBusy(em: EntityManager, backup: ContainerBackup) {
    if (backup.state === BackupState.CREATING || backup.state === BackupState.DELETING) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the backup is ${backup.state.toLowerCase()}`);
    if (!backup.operationId) return;
    const running = await em.findOneBy(Operation, { id: backup.operationId });
    if (running && ACTIVE_STATES.includes(running.state)) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `the backup is in use by operation ${running.id} (${running.action})`);
  }

  private async nodeAvailable(em: EntityManager, nodeId: string) {
    const node = await em.findOneByOrFail(Node, { id: nodeId });
    if (node.status === NodeStatus.OFFLINE) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node.name} is offline`);
  }

  private async replayedBackup(em: EntityManager, operation: Operation): Promise<ContainerBackup> {
    if (operation.state === OperationState.FAILED) throw new CorralError((operation.errorCode as ErrorCode) ?? ErrorCode.INTERNAL_SERVER_ERROR, operation.errorMessage ?? 'the operation failed');
    const id = String(operation.input.backupId ?? operation.input.id ?? '');
    const backup = isId(id) ? await em.findOneBy(ContainerBackup, { id }) : null;
    if (!backup) throw notFound('Backup');
    return backup;
  }
}
