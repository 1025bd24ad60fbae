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
  /** No longer on its node: deleted behind Corral's back, or lost when the container left the node. */
  MISSING = 'MISSING',
}
registerEnumType(BackupState, { name: 'BackupState' });

/**
 * A backup of one container, kept by LXD on the node where the container was (`POST
 * /1.0/instances/{name}/backups`, instance only, gzip, no expiry). LXD deletes an instance's
 * backups with the instance, so the rows go with their container (ON DELETE CASCADE).
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

  /** Where LXD keeps it (the container's node when it was taken). */
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
