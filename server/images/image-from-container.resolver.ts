import { Arg, Args, Authorized, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { IdempotencyArgs } from '../containers/containers.inputs';
import { Operation } from '../operations/operation.entity';
import { Image } from './image.entity';
import { CreateImageFromContainerInput } from './image-from-container.inputs';
import { CREATE_IMAGE } from './image-from-container.service';

@Authorized()
@Resolver(() => Operation)
export class ImageFromContainerResolver {
  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => Operation, {
    description:
      'Makes an image for the shared catalogue from a container (provider admins only: every tenant sees the catalogue). A running container is published through a snapshot and keeps running. Returns the operation (`container.createImage`) at once; when it succeeded its `image` is usable for new containers on any node. CONFLICT for a taken name, OPERATION_IN_PROGRESS while the container is busy; then nothing is changed.',
  })
  createImageFromContainer(@Arg('input') input: CreateImageFromContainerInput, @Args() { idempotencyKey }: IdempotencyArgs, @Ctx() ctx: Context): Promise<Operation> {
    return ctx.services.imagesFromContainers.create(ctx.actor!, input, idempotencyKey);
  }

  @FieldResolver(() => Image, { nullable: true, description: 'The image an image-from-container operation made, once it is registered.' })
  async image(@Root() operation: Operation, @Ctx() ctx: Context): Promise<Image | null> {
    if (operation.action !== CREATE_IMAGE || typeof operation.input?.imageId !== 'string') return null;
    return ctx.loaders.imageById.load(operation.input.imageId);
  }
}
