import { Arg, Args, Authorized, Ctx, ID, Query, Resolver } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { ConnectionType } from '../common/pagination';
import { Operation } from './operation.entity';
import { OperationsArgs } from './operations.inputs';

export const OperationConnection = ConnectionType(Operation);

@Authorized(Permission.CONTAINERS_READ)
@Resolver(() => Operation)
export class OperationsResolver {
  @Query(() => Operation)
  operation(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Operation> {
    return ctx.services.operations.get(ctx.actor!, id);
  }

  @Query(() => OperationConnection, { description: 'Operations by container or by account, newest first.' })
  operations(@Args() args: OperationsArgs, @Ctx() ctx: Context) {
    return ctx.services.operations.list(ctx.actor!, args);
  }
}
