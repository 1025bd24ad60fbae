import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Cluster } from '../clusters/cluster.entity';
import { Container } from '../containers/container.entity';

/**
 * A range of public addresses (IPv4 or IPv6) that Corral hands out to the containers of one
 * cluster. Pools never overlap, in any cluster. Addresses are kept as canonical text plus a
 * fixed-width sort key (see ip-math.ts `sortKeyOf`) so that both databases order them as numbers.
 */
@ObjectType({ description: 'A range of addresses Corral hands out to the containers of one cluster.' })
@Entity('ip_pools')
@Index(['clusterId', 'name'], { unique: true })
export class IpPool {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Field(() => ID)
  @Index()
  @Column({ type: 'varchar', length: 36 })
  clusterId!: string;

  @ManyToOne(() => Cluster, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'clusterId' })
  cluster?: Cluster;

  @Field()
  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Field(() => Int, { description: '4 or 6.' })
  @Column({ type: 'integer' })
  family!: number;

  @Field({ description: 'The block, canonical (e.g. `198.51.100.0/24`, `2001:db8::/48`).' })
  @Column({ type: 'varchar', length: 64 })
  cidr!: string;

  @Field({ description: 'The first address handed out.' })
  @Column({ type: 'varchar', length: 45 })
  firstAddress!: string;

  @Field({ description: 'The last address handed out.' })
  @Column({ type: 'varchar', length: 45 })
  lastAddress!: string;

  @Column({ type: 'varchar', length: 34 })
  firstKey!: string;

  @Column({ type: 'varchar', length: 34 })
  lastKey!: string;

  @Field(() => String, { nullable: true, description: 'Never handed out.' })
  @Column({ type: 'varchar', length: 45, nullable: true })
  gateway!: string | null;

  @Field(() => [String], { description: 'Addresses never handed out (besides the gateway).' })
  @Column({ type: 'simple-json' })
  reserved!: string[];

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}

/**
 * One address handed out to a container. The unique index on `address` (canonical text) is what
 * guarantees that no address is ever handed out twice, whatever the processes; the row goes
 * with its container (ON DELETE CASCADE), which releases the address at once.
 */
@ObjectType({ description: 'A public address Corral handed out to a container.' })
@Entity('ip_addresses')
@Index(['poolId', 'sortKey'])
export class IpAddress {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  poolId!: string;

  @ManyToOne(() => IpPool, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'poolId' })
  pool?: IpPool;

  @Index()
  @Column({ type: 'varchar', length: 36 })
  containerId!: string;

  @ManyToOne(() => Container, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'containerId' })
  container?: Container;

  @Field({ description: 'Canonical text: dotted quad, or RFC 5952 for IPv6.' })
  @Index({ unique: true })
  @Column({ type: 'varchar', length: 45 })
  address!: string;

  @Field(() => Int, { description: '4 or 6.' })
  @Column({ type: 'integer' })
  family!: number;

  @Column({ type: 'varchar', length: 34 })
  sortKey!: string;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}
