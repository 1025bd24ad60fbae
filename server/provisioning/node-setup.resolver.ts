import { Arg, Args, Authorized, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { IdempotencyArgs } from '../containers/containers.inputs';
import { Node } from '../nodes/node.entity';
import { NodeSetup } from './node-setup.entity';
import { ConnectNodeInput, RetryNodeSetupInput } from './node-setup.inputs';

@Authorized(Permission.INFRASTRUCTURE_READ)
@Resolver(() => Node)
export class NodeSetupResolver {
  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => Node, {
    description:
      "Connects a bare node over SSH (provider admins only): records the node SETTING_UP and a `node.setup` operation, which connects with the given password or private key (never stored), pins the SSH host key, checks the OS (Debian 12, Ubuntu 20.04 or later) and installs Corral's own SSH key; then runs the node playbook (ansible-playbook: LXD, nftables, bird2, sysctls, storage pool, trust of Corral's certificate; each task becomes the setup's step), reads LXD's server certificate over the pinned SSH connection, pins it, checks that LXD trusts Corral, and the node is READY; the cluster's BGP peers are then rewritten on its nodes. A failing step leaves the node FAILED with `setup.step` and `setup.output` (the operation's errorCode: SSH_AUTH_FAILED, NODE_UNREACHABLE, SSH_HOST_KEY_MISMATCH, UNSUPPORTED_OS, NODE_SETUP_FAILED for a playbook task, NODE_UNAVAILABLE); `retryNodeSetup` picks up from there. Refused before anything is recorded: NOT_FOUND for an unknown cluster, CONFLICT for a host or name already connected, BAD_USER_INPUT without (or with both) password and private key, LICENCE_LIMIT.",
  })
  connectNode(@Arg('input') input: ConnectNodeInput, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<Node> {
    return ctx.services.nodeSetups.connect(ctx.actor!, input, idempotencyKey);
  }

  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => Node, {
    description:
      "Runs the setup of a FAILED node again (provider admins only), keeping what is done (pinned host key, Corral's key); the playbook converges, so this picks up from the failed task. A READY or OFFLINE node connected over SSH runs the playbook again in place (a node in shape reports `setup.changedTasks` 0). Credentials are needed only while Corral's key is not installed. OPERATION_IN_PROGRESS while a setup runs; a node in any other status is answered as it is.",
  })
  retryNodeSetup(@Arg('input') input: RetryNodeSetupInput, @Ctx() ctx: Context): Promise<Node> {
    return ctx.services.nodeSetups.retry(ctx.actor!, input);
  }

  @FieldResolver(() => NodeSetup, { nullable: true, description: 'How Corral reaches the node over SSH and where its setup stands; null for a node joined with addNode.' })
  setup(@Root() node: Node, @Ctx() ctx: Context): Promise<NodeSetup | null> {
    return ctx.services.nodeSetups.setupOf(node.id);
  }
}
