import { Arg, Args, Authorized, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { Container } from './container.entity';
import { IdempotencyArgs } from './containers.inputs';
import { MigrationMode } from './migration-mode';

@Authorized(Permission.INFRASTRUCTURE_WRITE)
@Resolver(() => Container)
export class MigrationResolver {
  @Mutation(() => Container, {
    description:
      'Moves a container to another node of its cluster (provider admins only): stops it, moves it with its data, starts it there again if it ran. Returns at once; follow `operation` (`container.migrate`). BAD_USER_INPUT for the same node or one in another cluster, NODE_UNAVAILABLE for a node that is not READY, CAPACITY_EXCEEDED when the target has no room, MIGRATION_UNSUPPORTED for `live` where the nodes lack CRIU (`Node.capabilities.liveMigration`); then nothing is changed. Before the source instance is deleted, the container\'s backups kept on it are carried into Corral\'s archive (`Backup.location` ARCHIVE); if that fails the operation fails (BACKUP_ARCHIVE_FAILED, or LXD_ERROR for the node\'s export) and the container stays on the source.',
  })
  migrateContainer(
    @Arg('id', () => ID) id: string,
    @Arg('targetNodeId', () => ID) targetNodeId: string,
    @Arg('live', () => Boolean, { nullable: true, description: 'Keep it running while it moves (needs CRIU on both nodes).' }) live: boolean | null | undefined,
    @Args() { idempotencyKey }: IdempotencyArgs,
    @Ctx() ctx: Context,
    @Arg('mode', () => MigrationMode, { nullable: true, description: 'Which node connects to which (default PULL: the target connects to the source); PUSH for a target that cannot reach the source.' })
    mode?: MigrationMode | null,
  ): Promise<Container> {
    return ctx.services.migrations.migrate(ctx.actor!, id, targetNodeId, live === true, idempotencyKey, mode ?? MigrationMode.PULL);
  }
}
