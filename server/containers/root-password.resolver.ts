import { Arg, Args, Authorized, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { Container } from './container.entity';
import { IdempotencyArgs } from './containers.inputs';

@Authorized(Permission.CONTAINERS_WRITE)
@Resolver(() => Container)
export class RootPasswordResolver {
  @Mutation(() => Container, {
    description:
      "Sets root's password in a running container (8–256 characters). Corral hashes it (SHA-512 crypt) and hands the container only the hash, on chpasswd's stdin; the plaintext is never stored. Returns at once; follow `operation`. CONTAINER_NOT_RUNNING when the container is not running, IMAGE_UNSUPPORTED (on the operation) when its image has no chpasswd.",
  })
  setContainerRootPassword(
    @Arg('id', () => ID) id: string,
    @Arg('password', () => String) password: string,
    @Args() { idempotencyKey }: IdempotencyArgs,
    @Ctx() ctx: Context,
  ): Promise<Container> {
    return ctx.services.rootPasswords.set(ctx.actor!, id, password, idempotencyKey);
  }
}
