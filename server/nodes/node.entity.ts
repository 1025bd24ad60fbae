import { GraphQLBigInt } from 'graphql-scalars';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Cluster } from '../clusters/cluster.entity';
import { NodeCapabilities } from './node-capabilities';

export enum NodeStatus {
  READY = 'READY',
  OFFLINE = 'OFFLINE',
  /** Being emptied (`drainNode`): nothing new is placed on it; MAINTENANCE once empty. */
  DRAINING = 'DRAINING',
  MAINTENANCE = 'MAINTENANCE',
  /** connectNode is setting it up over SSH; LXD is not joined yet. */
  SETTING_UP = 'SETTING_UP',
  /**
   * No longer set: before the node playbook existed, connectNode stopped here. Kept so that rows
   * from then stay valid (removing an enum value would need a migration of the column's check);
   * retryNodeSetup continues such a node.
   */
  SSH_READY = 'SSH_READY',
  /** Its setup failed: see `setup.step` and `setup.output`; `retryNodeSetup` picks up from there. */
  FAILED = 'FAILED',
}
registerEnumType(NodeStatus, {
  name: 'NodeStatus',
  valuesConfig: {
    READY: { description: 'Answers, and takes new containers.' },
    OFFLINE: { description: 'Did not answer the last health check.' },
    DRAINING: { description: 'Its containers are being moved away (`drainNode`); takes no new ones.' },
    MAINTENANCE: { description: 'Emptied and out of service until `undrainNode`; takes no containers.' },
    SETTING_UP: { description: '`connectNode` is setting it up over SSH; takes no containers.' },
    SSH_READY: { description: "No longer set (connectNode now runs the node playbook): reached over SSH before the playbook existed; takes no containers. `retryNodeSetup` sets it up." },
    FAILED: { description: 'Its setup failed (`setup.step`, `setup.output`); takes no containers until `retryNodeSetup` succeeds.' },
  },
});

/** Statuses an operator chose (drain, maintenance): health checks leave them alone. */
export const OPERATOR_STATUSES: readonly NodeStatus[] = [NodeStatus.DRAINING, NodeStatus.MAINTENANCE];

/** Statuses of a node whose LXD is not joined yet (connectNode): no health check, no event stream, no reconcile. */
export const SETUP_STATUSES: readonly NodeStatus[] = [NodeStatus.SETTING_UP, NodeStatus.SSH_READY, NodeStatus.FAILED];

/** Stored as strings: byte counts overflow 32-bit integers and JavaScript numbers are exact to 2^53. */
export const bigintColumn = { type: 'bigint', transformer: { to: (v: number) => v, from: (v: string | number | null) => (v === null ? null : Number(v)) } } as const;

/** An LXD server Corral speaks to over HTTPS with its client certificate, pinning the node's. */
@ObjectType()
@Entity('nodes')
@Index(['clusterId', 'name'], { unique: true })
export class Node {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  clusterId!: string;

  @ManyToOne(() => Cluster, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'clusterId' })
  cluster?: Cluster;

  @Field()
  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Field({ description: 'The LXD API address, https://host:port.' })
  @Index({ unique: true })
  @Column({ type: 'varchar', length: 255 })
  url!: string;

  /** SHA-256 of the node's server certificate; every connection is pinned to it. */
  @Field({ description: "SHA-256 fingerprint of the node's LXD certificate, pinned on every connection." })
  @Column({ type: 'varchar', length: 64 })
  fingerprint!: string;

  @Column({ type: 'text' })
  serverCertificate!: string;

  @Field(() => NodeStatus)
  @Column({ type: 'simple-enum', enum: NodeStatus })
  status!: NodeStatus;

  @Field(() => Int)
  @Column({ type: 'integer', default: 0 })
  cpuThreads!: number;

  @Field(() => GraphQLBigInt)
  @Column({ ...bigintColumn, default: 0 })
  memoryBytes!: number;

  @Field(() => GraphQLBigInt)
  @Column({ ...bigintColumn, default: 0 })
  diskBytes!: number;

  @Field(() => String, { nullable: true, description: 'Why the last health check failed.' })
  @Column({ type: 'varchar', length: 500, nullable: true })
  lastError!: string | null;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  lastSeenAt!: Date | null;

  @Field(() => NodeCapabilities, { nullable: true, description: 'What the node can enforce, from the last health check that could tell; null until then.' })
  @Column({ type: 'simple-json', nullable: true })
  capabilities!: NodeCapabilities | null;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}
