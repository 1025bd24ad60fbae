import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { User } from '../accounts/user.entity';
import type { Context } from '../app/context';
import { CorralError, ErrorCode } from '../app/errors';

/**
 * The only operation open to anonymous callers, so it lives alone: every other resolver class
 * carries @Authorized() and denies by default.
 */
@Resolver()
export class LoginResolver {
  @Mutation(() => User, { description: 'Checks the password and sets a fresh httpOnly session cookie.' })
  async login(@Arg('email') email: string, @Arg('password') password: string, @Ctx() ctx: Context): Promise<User> {
    if (!ctx.http) throw new CorralError(ErrorCode.BAD_USER_INPUT, 'login is available over HTTP only');
    const { user, actor, secret, expiresAt } = await ctx.services.sessions.login(ctx.request, email, password, ctx.http.secret);
    ctx.http.set(secret, expiresAt);
    ctx.actor = actor;
    return user;
  }
}
