import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Account } from '../accounts/account.entity';
import type { Context } from '../app/context';
import { ConnectionType, PageArgs } from '../common/pagination';
import { ApiToken } from './api-token.entity';
import { CreateApiTokenInput, CreatedApiToken } from './auth.inputs';
import { Permission } from './permissions';

export const ApiTokenConnection = ConnectionType(ApiToken);

@Authorized()
@Resolver(() => ApiToken)
export class AuthResolver {
  @Mutation(() => Boolean, { description: 'Ends the current session and clears its cookie.' })
  async logout(@Ctx() ctx: Context): Promise<boolean> {
    await ctx.services.sessions.logout(ctx.actor!, ctx.http?.secret);
    ctx.http?.clear();
    return true;
  }

  @Query(() => ApiTokenConnection, { description: 'API tokens the caller created.' })
  apiTokens(@Args() page: PageArgs, @Ctx() ctx: Context) {
    return ctx.services.apiTokens.list(ctx.actor!, page);
  }

  @Authorized(Permission.TOKENS_WRITE)
  @Mutation(() => CreatedApiToken)
  createApiToken(@Arg('input') input: CreateApiTokenInput, @Ctx() ctx: Context): Promise<CreatedApiToken> {
    return ctx.services.apiTokens.create(ctx.actor!, input);
  }

  @Authorized(Permission.TOKENS_WRITE)
  @Mutation(() => ApiToken)
  revokeApiToken(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<ApiToken> {
    return ctx.services.apiTokens.revoke(ctx.actor!, id);
  }

  @FieldResolver(() => Account, { description: 'The account the token acts on.' })
  async account(@Root() token: ApiToken, @Ctx() ctx: Context): Promise<Account> {
    return (await ctx.loaders.accountById.load(token.accountId))!;
  }
}
