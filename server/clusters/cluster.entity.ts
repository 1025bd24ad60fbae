import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, Float, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export enum StorageDriver {
  BTRFS = 'btrfs',
  ZFS = 'zfs',
  LVM = 'lvm',
  DIR = 'dir',
}
registerEnumType(StorageDriver, { name: 'StorageDriver', description: '`dir` cannot enforce disk sizes; prefer btrfs, ZFS or LVM.' });

/** A set of homogeneous nodes that share a storage setup and overcommit policy. */
@ObjectType()
@Entity('clusters')
export class Cluster {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Field()
  @Index({ unique: true })
  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Field(() => StorageDriver)
  @Column({ type: 'simple-enum', enum: StorageDriver })
  storageDriver!: StorageDriver;

  @Field({ description: "The LXD storage pool on every node of the cluster." })
  @Column({ type: 'varchar', length: 63 })
  storagePool!: string;

  @Field({ description: 'Where backups are kept on each node.' })
  @Column({ type: 'varchar', length: 255 })
  backupDirectory!: string;

  @Field(() => Float, { description: 'How many virtual CPUs may be allocated per physical thread.' })
  @Column({ type: 'real' })
  cpuOvercommit!: number;

  @Field(() => Float, { description: 'How much memory may be allocated per byte of physical memory.' })
  @Column({ type: 'real' })
  memoryOvercommit!: number;

  /** bigint: 4-byte AS numbers pass PostgreSQL's 32-bit signed integer. */
  @Field(() => GraphQLSafeInt, { description: 'The AS number of the cluster\'s iBGP fabric (bird2 on every node connected over SSH peers with the others in it); 1–4294967294.' })
  @Column({ type: 'bigint', default: 65000, transformer: { to: (v: number) => v, from: (v: string | number) => Number(v) } })
  fabricAsn!: number;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}
