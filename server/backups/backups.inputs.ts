import { IsOptional, Length, Matches, Max, Min } from 'class-validator';
import { ArgsType, Field, ID, Int } from 'type-graphql';
import { PageArgs } from '../common/pagination';
import { CONTAINER_NAME } from '../containers/containers.inputs';

@ArgsType()
export class BackupsArgs extends PageArgs {
  @Field(() => ID)
  containerId!: string;
}

@ArgsType()
export class RestoreAsNewArgs {
  @Field(() => ID, { description: 'The backup.' })
  id!: string;

  @Field({ description: 'The new container: a hostname label, unique in the project.' })
  @Matches(CONTAINER_NAME, { message: 'name must be 1–63 letters, digits or hyphens, start with a letter and not end with a hyphen' })
  name!: string;
}

@ArgsType()
export class BackupScheduleArgs {
  @Field(() => ID)
  containerId!: string;

  @Field({ description: 'When to back up, as a cron expression in UTC: 5 fields, or 6 with seconds first. Runs may be no closer than the configured minimum interval (one hour by default).' })
  @Length(1, 120)
  cron!: string;

  @Field(() => Int, { description: 'How many scheduled backups to keep, 1–100: older ones are deleted after each scheduled backup.' })
  @Min(1)
  @Max(100)
  keep!: number;

  @Field(() => Boolean, { nullable: true, defaultValue: true })
  @IsOptional()
  enabled?: boolean;
}
