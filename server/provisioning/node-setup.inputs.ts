import { IsInt, IsOptional, Length, Matches, Max, Min } from 'class-validator';
import { Field, ID, InputType, Int } from 'type-graphql';

@InputType()
export class ConnectNodeInput {
  @Field(() => ID)
  clusterId!: string;

  @Field()
  @Matches(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/, { message: 'name must be 2–63 lower-case letters, digits or hyphens, starting with a letter' })
  name!: string;

  @Field({ description: 'The SSH address: an IPv4 or IPv6 address or a host name. LXD is then expected on https://host:8443.' })
  @Matches(/^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f:]+)$/, { message: 'host must be an IP address or a host name' })
  host!: string;

  @Field(() => Int, { defaultValue: 22 })
  @IsInt()
  @Min(1)
  @Max(65535)
  port!: number;

  @Field({ defaultValue: 'root' })
  @Matches(/^[a-z_][a-z0-9_-]{0,31}$/, { message: 'user must be a Unix user name' })
  user!: string;

  @Field(() => String, { nullable: true, description: 'Used once, to install Corral\'s own key; never stored.' })
  @IsOptional()
  @Length(1, 1024)
  password?: string;

  @Field(() => String, { nullable: true, description: 'An OpenSSH private key (unencrypted). Used once, to install Corral\'s own key; never stored.' })
  @IsOptional()
  @Length(1, 16384)
  privateKey?: string;

  @Field(() => String, { nullable: true, description: "Also set this as LXD's trust password on the node (core.trust_password), for LXD clients that join with a password. Corral itself does not need it: the playbook makes LXD trust Corral's certificate. Never stored." })
  @IsOptional()
  @Length(1, 4096)
  lxdTrustPassword?: string;
}

@InputType()
export class RetryNodeSetupInput {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true, description: "Needed only while Corral's own key is not installed yet." })
  @IsOptional()
  @Length(1, 1024)
  password?: string;

  @Field(() => String, { nullable: true, description: "Needed only while Corral's own key is not installed yet." })
  @IsOptional()
  @Length(1, 16384)
  privateKey?: string;

  @Field(() => String, { nullable: true, description: "Also set this as LXD's trust password on the node (see connectNode)." })
  @IsOptional()
  @Length(1, 4096)
  lxdTrustPassword?: string;
}
