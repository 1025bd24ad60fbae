import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, Float, InputType } from 'type-graphql';
import { StorageDriver } from './cluster.entity';

const LXD_NAME = /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

@InputType()
export class CreateClusterInput {
  @Field()
  @Matches(LXD_NAME, { message: 'name must be 2–63 lower-case letters, digits or hyphens, starting with a letter' })
  name!: string;

  @Field(() => StorageDriver, { nullable: true, defaultValue: StorageDriver.BTRFS })
  storageDriver!: StorageDriver;

  @Field({ nullable: true, defaultValue: 'default', description: 'The LXD storage pool to use on every node.' })
  @Matches(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { message: 'storagePool must be an LXD storage pool name' })
  storagePool!: string;

  @Field({ nullable: true, defaultValue: '/var/lib/corral/backups' })
  @Matches(/^\/[A-Za-z0-9._/-]{0,254}$/, { message: 'backupDirectory must be an absolute path' })
  backupDirectory!: string;

  @Field(() => Float, { nullable: true, defaultValue: 4 })
  @IsOptional()
  @Min(1)
  @Max(64)
  cpuOvercommit!: number;

  @Field(() => Float, { nullable: true, defaultValue: 1 })
  @IsOptional()
  @Min(1)
  @Max(8)
  memoryOvercommit!: number;

  @Field(() => GraphQLSafeInt, { nullable: true, defaultValue: 65000, description: 'The AS number of the cluster\'s iBGP fabric, 1–4294967294 (2- or 4-byte; 64512–65534 and 4200000000–4294967294 are private).' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4294967294)
  fabricAsn!: number;
}
