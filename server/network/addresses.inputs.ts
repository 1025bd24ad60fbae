import { IsEnum, IsOptional, Length, MaxLength } from 'class-validator';
import { Field, ID, InputType, registerEnumType } from 'type-graphql';

export enum AddressFamily {
  IPV4 = 'IPV4',
  IPV6 = 'IPV6',
}
registerEnumType(AddressFamily, { name: 'AddressFamily', description: 'IPv4 or IPv6.' });

export const familyNumber = (family: AddressFamily): 4 | 6 => (family === AddressFamily.IPV4 ? 4 : 6);

@InputType({ description: 'One public address for a container: the lowest free one of the family from the cluster’s pools, or a specific one.' })
export class AddressRequestInput {
  @Field(() => AddressFamily)
  @IsEnum(AddressFamily)
  family!: AddressFamily;

  @Field(() => String, {
    nullable: true,
    description: 'A specific address from one of the IP pools of the container’s cluster (ADDRESS_OUTSIDE_CLUSTER otherwise; ADDRESS_IN_USE when allocated already). Default: the lowest free address of the first pool (by name) that has one.',
  })
  @IsOptional()
  @MaxLength(45)
  address?: string | null;
}

@InputType()
export class AddContainerAddressInput extends AddressRequestInput {
  @Field(() => ID)
  containerId!: string;

  @Field(() => String, { nullable: true, description: 'Replaying a request with the same key returns the first result instead of acting twice.' })
  @IsOptional()
  @Length(1, 200)
  idempotencyKey?: string;
}

@InputType()
export class RemoveContainerAddressInput {
  @Field(() => ID)
  containerId!: string;

  @Field({ description: 'The address to release, e.g. `198.51.100.7` or `2001:db8::7`.' })
  @MaxLength(45)
  address!: string;

  @Field(() => String, { nullable: true, description: 'Replaying a request with the same key returns the first result instead of acting twice.' })
  @IsOptional()
  @Length(1, 200)
  idempotencyKey?: string;
}
