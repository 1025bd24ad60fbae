import { ArrayMaxSize, IsOptional, Length, Matches, Max, Min, ValidateNested } from 'class-validator';
import { ArgsType, Field, ID, InputType, Int } from 'type-graphql';
import { PageArgs } from '../common/pagination';
import { CloudInitInput } from './cloud-init.inputs';
import { AddressRequestInput } from '../network/addresses.inputs';

/** LXD's instance name rules: a hostname label. */
export const CONTAINER_NAME = /^[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;

@InputType()
export class CreateContainerInput {
  @Field(() => ID)
  projectId!: string;

  @Field({ description: 'A hostname label: letters, digits and hyphens, 1–63, starting with a letter; unique in the project.' })
  @Matches(CONTAINER_NAME, { message: 'name must be 1–63 letters, digits or hyphens, start with a letter and not end with a hyphen' })
  name!: string;

  @Field(() => ID, { description: 'An image from `images`.' })
  imageId!: string;

  @Field(() => Int, { description: 'Virtual CPUs, 1–64.' })
  @Min(1)
  @Max(64)
  cpu!: number;

  @Field(() => Int, { description: 'Memory in MiB, 32 MiB to 256 GiB.' })
  @Min(32)
  @Max(256 * 1024)
  memoryMiB!: number;

  @Field(() => Int, { description: 'Root disk size in MiB, 64 MiB to 16 TiB.' })
  @Min(64)
  @Max(16 * 1024 * 1024)
  diskMiB!: number;

  @Field(() => ID, { nullable: true, description: 'The cluster; may be omitted while there is only one.' })
  @IsOptional()
  clusterId?: string;

  @Field(() => ID, { nullable: true, description: 'Place the container on this node (provider admins only); otherwise the node with most room is chosen.' })
  @IsOptional()
  nodeId?: string;

  @Field(() => CloudInitInput, { nullable: true, description: 'Accounts, SSH keys and packages that cloud-init sets up at first boot; checked by the service (BAD_USER_INPUT names the field). Sent to the node only: never shown again.' })
  @IsOptional()
  cloudInit?: CloudInitInput | null;

  @Field(() => [AddressRequestInput], {
    nullable: true,
    description: 'Public addresses from the cluster’s IP pools (at most 8), allocated with the container and on its routed `eth0` from the first start. Refused as addContainerAddress refuses them (POOL_EXHAUSTED, ADDRESS_OUTSIDE_CLUSTER, ADDRESS_IN_USE, BAD_USER_INPUT); then nothing is created.',
  })
  @IsOptional()
  @ArrayMaxSize(8)
  @ValidateNested({ each: true })
  addresses?: AddressRequestInput[] | null;
}

@ArgsType()
export class ContainersArgs extends PageArgs {
  @Field(() => ID, { nullable: true })
  projectId?: string;
}

@ArgsType()
export class IdempotencyArgs {
  @Field(() => String, { nullable: true, description: 'Replaying a request with the same key returns the first result instead of acting twice.' })
  @IsOptional()
  @Length(1, 200)
  idempotencyKey?: string;
}
