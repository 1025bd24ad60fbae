import { ArrayMaxSize, IsOptional, Matches, MaxLength } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';

@InputType()
export class CreateIpPoolInput {
  @Field(() => ID)
  clusterId!: string;

  @Field()
  @Matches(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, { message: 'name must be 2–63 lower-case letters, digits or hyphens, starting with a letter' })
  name!: string;

  @Field({ description: 'The block, IPv4 or IPv6: `198.51.100.0/24`, `2001:db8::/48`. No other pool, in any cluster, may overlap it.' })
  @MaxLength(64)
  cidr!: string;

  @Field(() => String, { nullable: true, description: 'The first address handed out (default: the first after the network address).' })
  @IsOptional()
  @MaxLength(45)
  firstAddress?: string | null;

  @Field(() => String, { nullable: true, description: 'The last address handed out (default: the last before the IPv4 broadcast address; the last of an IPv6 block).' })
  @IsOptional()
  @MaxLength(45)
  lastAddress?: string | null;

  @Field(() => String, { nullable: true, description: 'The gateway: inside the block, never handed out.' })
  @IsOptional()
  @MaxLength(45)
  gateway?: string | null;

  @Field(() => [String], { nullable: true, description: 'Addresses inside the block never handed out (at most 256).' })
  @IsOptional()
  @ArrayMaxSize(256)
  @MaxLength(45, { each: true })
  reserved?: string[] | null;
}
