import { ArgsType, Field, ID } from 'type-graphql';
import { PageArgs } from '../common/pagination';
import { OperationState } from './operation.entity';

@ArgsType()
export class OperationsArgs extends PageArgs {
  @Field(() => ID, { nullable: true })
  containerId?: string;

  @Field(() => ID, { nullable: true })
  accountId?: string;

  @Field(() => OperationState, { nullable: true })
  state?: OperationState;
}
