import DataLoader from 'dataloader';
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { ConnectionType } from '../common/pagination';
import { Container } from '../containers/container.entity';
import { IdempotencyArgs } from '../containers/containers.inputs';
import { Operation } from '../operations/operation.entity';
import { BackupSchedule } from './backup-schedule.entity';
import { BackupState, ContainerBackup } from './backup.entity';
import { BackupScheduleArgs, BackupsArgs, RestoreAsNewArgs } from './backups.inputs';

export const BackupConnection = ConnectionType(ContainerBackup, 'Backup');

/** Per-request batch loaders for the backup fields, keyed by the request's context (the shared loaders stay untouched). */
const loaders = new WeakMap<Context, { schedule: DataLoader<string, BackupSchedule | null>; operation: DataLoader<string, Operation | null> }>();
function loadersOf(ctx: Context) {
  let found = loaders.get(ctx);
  if (!found) {
    found = {
      schedule: new DataLoader((ids) => ctx.services.backups.schedulesOf(ids)),
      operation: new DataLoader((ids) => ctx.services.backups.operationsOf(ids)),
    };
    loaders.set(ctx, found);
  }
  return found;
}

/** The path of a backup's download (`GET`, authenticated like the API: session cookie or bearer token). */
export const downloadPathOf = (id: string) => `/backups/${encodeURIComponent(id)}/download`;

@Authorized(Permission.CONTAINERS_READ)
@Resolver(() => ContainerBackup)
export class BackupsResolver {
  @Query(() => ContainerBackup)
  backup(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<ContainerBackup> {
    return ctx.services.backups.get(ctx.actor!, id);
  }

  @Query(() => BackupConnection, { description: "A container's backups, newest first." })
  backups(@Args() args: BackupsArgs, @Ctx() ctx: Context) {
    return ctx.services.backups.list(ctx.actor!, args.containerId, args);
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => ContainerBackup, {
    description: 'Backs the container up (it may run). Returns the backup as CREATING at once; follow `state` or `operation` (`backup.create`). OPERATION_IN_PROGRESS while another operation runs on the container.',
  })
  createBackup(@Arg('containerId', () => ID) containerId: string, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<ContainerBackup> {
    return ctx.services.backups.create(ctx.actor!, containerId, idempotencyKey);
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => ContainerBackup, { description: 'Deletes the backup from its node (or its file from Corral’s archive) and from Corral. Returns it as DELETING; follow `operation` (`backup.delete`).' })
  deleteBackup(@Arg('id', () => ID) id: string, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<ContainerBackup> {
    return ctx.services.backups.delete(ctx.actor!, id, idempotencyKey);
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => Container, {
    description:
      "Restores the backup onto its container, which must be stopped (CONTAINER_RUNNING otherwise; nothing changes). The container keeps its limits, identity and other backups; only its data goes back. Returns the container; follow `operation` (`backup.restore`). BACKUP_MISSING when the backup is no longer on its node (or in Corral's archive, for an archived one). An archived backup restores onto whatever node the container is on now.",
  })
  restoreBackup(@Arg('id', () => ID) id: string, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.backups.restore(ctx.actor!, id, idempotencyKey);
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => Container, {
    description:
      "Restores the backup as a new container in the same project, with the source's current resources and a new identity, placed like `createContainer` (LICENCE_LIMIT, CAPACITY_EXCEEDED). Returns it as CREATING; follow `operation` (`backup.restoreAsNew`).",
  })
  restoreBackupAsNew(@Args() { id, name }: RestoreAsNewArgs, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.backups.restoreAsNew(ctx.actor!, id, name, idempotencyKey);
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => Container, { description: "Sets or replaces the container's backup schedule (see `Container.backupSchedule`). BAD_USER_INPUT for a bad or too frequent `cron`, or `keep` outside 1–100." })
  setBackupSchedule(@Args() args: BackupScheduleArgs, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.backups.setSchedule(ctx.actor!, args.containerId, args.cron, args.keep, args.enabled ?? true);
  }

  @Authorized(Permission.CONTAINERS_WRITE)
  @Mutation(() => Container, { description: "Removes the container's backup schedule; the backups it took stay. NOT_FOUND when there is none." })
  removeBackupSchedule(@Arg('containerId', () => ID) containerId: string, @Ctx() ctx: Context): Promise<Container> {
    return ctx.services.backups.removeSchedule(ctx.actor!, containerId);
  }

  @FieldResolver(() => Boolean, { description: 'Taken by the schedule (and pruned by its `keep`), not on request.' })
  scheduled(@Root() backup: ContainerBackup): boolean {
    return backup.scheduleId !== null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Where to `GET` the gzip tarball (same authentication as the API), while the backup is READY.' })
  downloadUrl(@Root() backup: ContainerBackup): string | null {
    return backup.state === BackupState.READY ? downloadPathOf(backup.id) : null;
  }

  @FieldResolver(() => ID)
  containerId(@Root() backup: ContainerBackup): string {
    return backup.containerId;
  }

  @FieldResolver(() => Operation, { nullable: true, description: 'The latest operation on this backup (create, delete, restore).' })
  operation(@Root() backup: ContainerBackup, @Ctx() ctx: Context): Promise<Operation | null> {
    return backup.operationId ? loadersOf(ctx).operation.load(backup.operationId) : Promise.resolve(null);
  }
}

@Authorized(Permission.CONTAINERS_READ)
@Resolver(() => Container)
export class ContainerBackupsResolver {
  @FieldResolver(() => BackupSchedule, { nullable: true, description: 'When the container is backed up automatically; null without a schedule.' })
  backupSchedule(@Root() container: Container, @Ctx() ctx: Context): Promise<BackupSchedule | null> {
    return loadersOf(ctx).schedule.load(container.id);
  }
}
