import { IsOptional, Length } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';

@InputType({ description: 'A network interface to add; name and network are checked by the service (after access), not here.' })
export class AddNetworkInterfaceInput {
  @Field(() => ID)
  containerId!: string;

  @Field(() => String, {
    nullable: true,
    description: 'The interface name inside the container: 1–15 of letters, digits, `_`, `-`, `.`, starting with a letter; `eth0` (the primary interface), `lo` and `root` are reserved. Default: the first free `ethN` from `eth1`.',
  })
  @IsOptional()
  name?: string;

  @Field(() => String, {
    nullable: true,
    description: 'A managed bridge on the node that the provider opened to tenants (`user.corral.attachable=true`). Default: the project’s own layer-2 bridge on the node (`crb` + the last 12 hex digits of the project ID), created on first use. One interface per network per container.',
  })
  @IsOptional()
  network?: string;

  @Field(() => String, { nullable: true, description: 'Replaying a request with the same key returns the first result instead of acting twice.' })
  @IsOptional()
  @Length(1, 200)
  idempotencyKey?: string;
}

@InputType()
export class RemoveNetworkInterfaceInput {
  @Field(() => ID)
  containerId!: string;

  @Field(() => String, { description: 'The interface to remove, e.g. `eth1`. `eth0`, the primary interface, cannot be removed.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Replaying a request with the same key returns the first result instead of acting twice.' })
  @IsOptional()
  @Length(1, 200)
  idempotencyKey?: string;
}
