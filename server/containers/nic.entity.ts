import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Container } from './container.entity';

/**
 * How a NIC reaches the network. BRIDGED: a veth on a managed LXD bridge of the node (layer 2,
 * no addresses from Corral). Routed NICs with public addresses come with the networking issue.
 */
export enum NicKind {
  BRIDGED = 'BRIDGED',
}
registerEnumType(NicKind, { name: 'NicKind', description: 'How a network interface reaches the network.' });

/**
 * A network interface Corral added to a container: an LXD `nic` device of the same name on the
 * instance. The row is written once the device is on the node and removed once it is gone.
 */
@ObjectType({ description: 'A network interface Corral added to a container.' })
@Entity('container_nics')
@Index(['containerId', 'name'], { unique: true })
export class ContainerNic {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Index()
  @Column({ type: 'varchar', length: 36 })
  containerId!: string;

  @ManyToOne(() => Container, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'containerId' })
  container?: Container;

  @Field({ description: 'The interface name inside the container (also the LXD device name), e.g. `eth1`.' })
  @Column({ type: 'varchar', length: 15 })
  name!: string;

  @Field(() => NicKind)
  @Column({ type: 'simple-enum', enum: NicKind })
  kind!: NicKind;

  @Field(() => String, { nullable: true, description: 'The managed LXD network on the node (BRIDGED: the bridge).' })
  @Column({ type: 'varchar', length: 15, nullable: true })
  network!: string | null;

  @Field(() => String, { nullable: true, description: 'The MAC address, e.g. `00:16:3e:12:34:56`.' })
  @Column({ type: 'varchar', length: 17, nullable: true })
  hwaddr!: string | null;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}
