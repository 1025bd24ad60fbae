import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Container } from '../containers/container.entity';

export enum PortProtocol {
  TCP = 'TCP',
  UDP = 'UDP',
}
registerEnumType(PortProtocol, { name: 'PortProtocol' });

/** Stored as JSON in `container_firewalls.inboundPorts`. */
export interface StoredPortRule {
  protocol: PortProtocol;
  from: number;
  to: number;
}

/**
 * A container's inbound firewall settings, enforced by Corral's nftables table on the
 * container's node (server/firewall/render.ts). No row: no limit and all ports open.
 */
@Entity('container_firewalls')
export class ContainerFirewallSettings {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  containerId!: string;

  @OneToOne(() => Container, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'containerId' })
  container?: Container;

  @Column({ type: 'integer', nullable: true })
  tcpConnectionLimit!: number | null;

  @Column({ type: 'simple-json', nullable: true })
  inboundPorts!: StoredPortRule[] | null;

  @UpdateDateColumn()
  updatedAt!: Date;
}

@ObjectType({ description: 'Ports `from`–`to` (inclusive) of one protocol.' })
export class PortRule {
  @Field(() => PortProtocol)
  protocol!: PortProtocol;

  @Field(() => Int)
  from!: number;

  @Field(() => Int)
  to!: number;
}

@ObjectType({ description: "A container's inbound firewall, enforced on its node by Corral's nftables rules." })
export class ContainerFirewall {
  @Field(() => Int, { nullable: true, description: 'New inbound TCP connections beyond this many at once are reset; null: no limit.' })
  tcpConnectionLimit!: number | null;

  @Field(() => [PortRule], { nullable: true, description: 'Only these ports are open to new inbound TCP and UDP (ICMP and replies always pass); null: all ports open.' })
  inboundPorts!: PortRule[] | null;
}
