import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { ConnectionType } from '../common/pagination';
import { Account } from './account.entity';
import { ByAccountArgs, CreateUserInput } from './accounts.inputs';
import { User } from './user.entity';

export const UserConnection = ConnectionType(User);

@Authorized()
@Resolver(() => User)
export class UsersResolver {
  @Query(() => User, { description: 'The signed-in user.' })
  me(@Ctx() ctx: Context): Promise<User> {
    return ctx.services.users.me(ctx.actor!);
  }

  @Authorized(Permission.USERS_READ)
  @Query(() => User)
  user(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<User> {
    return ctx.services.users.get(ctx.actor!, id);
  }

  @Authorized(Permission.USERS_READ)
  @Query(() => UserConnection)
  users(@Args() args: ByAccountArgs, @Ctx() ctx: Context) {
    return ctx.services.users.list(ctx.actor!, args);
  }

  @Authorized(Permission.USERS_WRITE)
  @Mutation(() => User)
  createUser(@Arg('input') input: CreateUserInput, @Ctx() ctx: Context): Promise<User> {
    return ctx.services.users.create(ctx.actor!, input);
  }

  /** A user's own account is always theirs to see, even through a token scoped below it. */
  @FieldResolver(() => Account)
  async account(@Root() user: User, @Ctx() ctx: Context): Promise<Account> {
    return (await ctx.loaders.accountById.load(user.accountId))!;
  }
}
