import { IsOptional } from 'class-validator';
import { Field, ID, InputType, Int } from 'type-graphql';
import { PortProtocol } from './firewall.entity';

/** Checked by the service (after the access check), so that the errors name their field. */
@InputType({ description: 'Ports `from`–`to` (1–65535) of one protocol; `to` defaults to `from`.' })
export class PortRuleInput {
  @Field(() => PortProtocol)
  protocol!: PortProtocol;

  @Field(() => Int)
  from!: number;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  to?: number | null;
}

/** Replaces both settings; a field left out is null. */
@InputType()
export class SetContainerFirewallInput {
  @Field(() => ID)
  containerId!: string;

  @Field(() => Int, { nullable: true, description: 'Concurrent inbound TCP connections, 1–100 000, all of the container’s addresses together; null: no limit.' })
  @IsOptional()
  tcpConnectionLimit?: number | null;

  @Field(() => [PortRuleInput], { nullable: true, description: 'At most 64 rules; only these ports are open to new inbound TCP and UDP (ICMP stays open); an empty list closes all; null: all open.' })
  @IsOptional()
  inboundPorts?: PortRuleInput[] | null;
}
