import { IsOptional, MaxLength } from 'class-validator';
import { ArgsType, Field, ID } from 'type-graphql';
import { PageArgs } from '../common/pagination';

@ArgsType()
export class AuditEventsArgs extends PageArgs {
  @Field(() => ID, { nullable: true, description: 'Only events about this account; everything visible when omitted.' })
  accountId?: string;

  @Field({ nullable: true, description: 'Only this action, e.g. `project.create`.' })
  @IsOptional()
  @MaxLength(64)
  action?: string;
}
