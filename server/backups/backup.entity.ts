import { GraphQLBigInt } from 'graphql-scalars';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Account } from '../accounts/account.entity';
import { Container } from '../containers/container.entity';
import { bigintColumn } from '../nodes/node.entity';
import { BackupSchedule } from './backup-schedule.entity';

export enum BackupState {
  CREATING = 'CREATING',
  READY = 'READY',
  FAILED = 'FAILED',
  DELETING = 'DELETING',
  /** No longer where Corral kept it: deleted behind Corral's back (on the node or in the archive). */
  MISSING = 'MISSING',
}
registerEnumType(BackupState, { name: 'BackupState' });

/** Where a backup's tarball lives. */
export enum BackupLocation {
  /** On the node it was taken on, kept by LXD with its instance. */
  NODE = 'NODE',
  /** In Corral's own backup archive (CORRAL_BACKUP_ARCHIVE_DIR): carried there when its container left the node. */
  ARCHIVE = 'ARCHIVE',
}
registerEnumType(BackupLocation, { name: 'BackupLocation', description: 'Where a backup is kept: by LXD on its node, or in Corral’s archive.' });

/**
 * A backup of one container, kept by LXD on the node where the container was (`POST
 * /1.0/instances/{name}/backups`, instance only, gzip, no expiry). LXD deletes an instance's
 * backups with the instance, so the rows go with their container (ON DELETE CASCADE). When the
 * container leaves the node (migration, drain), its READY backups are carried into Corral's archive
 * first (`location` ARCHIVE, file `<archive dir>/<id>.tar.gz`).
 */
@ObjectType('Backup')
@Entity('container_backups')
@Index(['containerId', 'id'])
@Index(['nodeId', 'lxdName'], { unique: true })
export class ContainerBackup {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  containerId!: string;

  @ManyToOne(() => Container, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'containerId' })
  container?: Container;

  /** The account of the container's project, for scope checks without joins. */
  @Index()
  @Column({ type: 'varchar', length: 36 })
  accountId!: string;

  @ManyToOne(() => Account, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'accountId' })
  account?: Account;

  @Column({ type: 'varchar', length: 120 })
  accountPath!: string;

  /** The node it was taken on (where LXD keeps it while `location` is NODE). */
  @Column({ type: 'varchar', length: 36 })
  nodeId!: string;

  /** The instance it belongs to on that node (the container's name when it was taken). */
  @Column({ type: 'varchar', length: 63 })
  instanceName!: string;

  /** LXD's name for the backup: `corral-<12 hex of the id>`. */
  @Column({ type: 'varchar', length: 63 })
  lxdName!: string;

  @Field(() => BackupState)
  @Column({ type: 'simple-enum', enum: BackupState })
  state!: BackupState;

  @Field(() => GraphQLBigInt, { nullable: true, description: 'Size of the gzip tarball in bytes, once READY.' })
  @Column({ ...bigintColumn, nullable: true })
  sizeBytes!: number | null;

  @Field(() => BackupLocation, { description: 'NODE while LXD keeps it on the node it was taken on; ARCHIVE once carried into Corral’s archive (its container left that node).' })
  @Column({ type: 'simple-enum', enum: BackupLocation, default: BackupLocation.NODE })
  location!: BackupLocation;

  @Field(() => String, { nullable: true, description: 'SHA-256 (hex) of the gzip tarball, known once it is archived: a download can be checked against it.' })
  @Column({ type: 'varchar', length: 64, nullable: true })
  sha256!: string | null;

  /** The schedule that took it; null for one taken on request. Scheduled backups are pruned to the schedule's `keep`. */
  @Index()
  @Column({ type: 'varchar', length: 36, nullable: true })
  scheduleId!: string | null;

  @ManyToOne(() => BackupSchedule, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'scheduleId' })
  schedule?: BackupSchedule;

  /** The latest operation on this backup (create, delete, restore): one at a time. */
  @Column({ type: 'varchar', length: 36, nullable: true })
  operationId!: string | null;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}
