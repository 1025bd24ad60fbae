import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { ConnectionType } from '../common/pagination';
import { inScope } from './access';
import { Account } from './account.entity';
import { AccountsArgs, CreateAccountInput } from './accounts.inputs';

export const AccountConnection = ConnectionType(Account);

@Authorized()
@Resolver(() => Account)
export class AccountsResolver {
  @Authorized(Permission.ACCOUNTS_READ)
  @Query(() => Account)
  account(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Account> {
    return ctx.services.accounts.get(ctx.actor!, id);
  }

  @Authorized(Permission.ACCOUNTS_READ)
  @Query(() => AccountConnection, { description: "Accounts inside the caller's scope, oldest first." })
  accounts(@Args() args: AccountsArgs, @Ctx() ctx: Context) {
    return ctx.services.accounts.list(ctx.actor!, args);
  }

  @Authorized(Permission.ACCOUNTS_WRITE)
  @Mutation(() => Account)
  createAccount(@Arg('input') input: CreateAccountInput, @Ctx() ctx: Context): Promise<Account> {
    return ctx.services.accounts.create(ctx.actor!, input);
  }

  @FieldResolver(() => Account, { nullable: true, description: 'The parent account, when the caller may see it.' })
  async parent(@Root() account: Account, @Ctx() ctx: Context): Promise<Account | null> {
    if (!account.parentId) return null;
    const parent = await ctx.loaders.accountById.load(account.parentId);
    return parent && inScope(ctx.actor!, parent.path) ? parent : null;
  }
}
