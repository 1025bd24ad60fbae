import { IsOptional, Max, Min } from 'class-validator';
import { Field, InputType, Int } from 'type-graphql';

/** Live resource changes; give at least one. Nothing restarts. */
@InputType()
export class UpdateContainerResourcesInput {
  @Field(() => Int, { nullable: true, description: 'Virtual CPUs, 1–64 (`limits.cpu`).' })
  @IsOptional()
  @Min(1)
  @Max(64)
  cpu?: number;

  @Field(() => Int, { nullable: true, description: 'Memory in MiB, 32 MiB to 256 GiB (`limits.memory`, a hard limit).' })
  @IsOptional()
  @Min(32)
  @Max(256 * 1024)
  memoryMiB?: number;

  @Field(() => Int, {
    nullable: true,
    description: 'A hard cap on CPU time in percent of one CPU, 1–6400 (150 = one and a half CPUs). Applied as `limits.cpu.allowance = "<X>ms/100ms"`.',
  })
  @IsOptional()
  @Min(1)
  @Max(6400)
  cpuLimitPercent?: number;

  @Field(() => Int, { nullable: true, description: 'CPU weight against other containers on the node, 0–10 (`limits.cpu.priority`).' })
  @IsOptional()
  @Min(0)
  @Max(10)
  cpuWeight?: number;
}

/** Root disk sizes Corral accepts: the same bounds as at create. */
export const DISK_MIB_MIN = 64;
export const DISK_MIB_MAX = 16 * 1024 * 1024;

/** IO limits on the root disk; give at least one. Read and write each take IOPS or Mbit/s, not both. */
@InputType()
export class SetContainerIoLimitsInput {
  @Field(() => Int, { nullable: true, description: 'IO weight against other containers, 0–10 (`limits.disk.priority`; needs `Node.capabilities.blkioWeight`).' })
  @IsOptional()
  @Min(0)
  @Max(10)
  weight?: number;

  @Field(() => Int, { nullable: true, description: 'Read limit in operations per second, 1–1 000 000 (`limits.read = "<n>iops"`).' })
  @IsOptional()
  @Min(1)
  @Max(1_000_000)
  readIops?: number;

  @Field(() => Int, { nullable: true, description: 'Write limit in operations per second, 1–1 000 000.' })
  @IsOptional()
  @Min(1)
  @Max(1_000_000)
  writeIops?: number;

  @Field(() => Int, { nullable: true, description: 'Read limit in Mbit/s, 1–100 000 (applied as bytes per second).' })
  @IsOptional()
  @Min(1)
  @Max(100_000)
  readMbit?: number;

  @Field(() => Int, { nullable: true, description: 'Write limit in Mbit/s, 1–100 000.' })
  @IsOptional()
  @Min(1)
  @Max(100_000)
  writeMbit?: number;
}

/** Network limits; give at least one. NIC limits apply to every NIC of the container. */
@InputType()
export class SetContainerNetworkLimitsInput {
  @Field(() => Int, { nullable: true, description: 'Network weight, 0–10 (`limits.network.priority`; needs `Node.capabilities.netPrio`).' })
  @IsOptional()
  @Min(0)
  @Max(10)
  weight?: number;

  @Field(() => Int, { nullable: true, description: 'Traffic to the container in Mbit/s, 1–100 000 (NIC `limits.ingress`).' })
  @IsOptional()
  @Min(1)
  @Max(100_000)
  ingressMbit?: number;

  @Field(() => Int, { nullable: true, description: 'Traffic from the container in Mbit/s, 1–100 000 (NIC `limits.egress`).' })
  @IsOptional()
  @Min(1)
  @Max(100_000)
  egressMbit?: number;
}
