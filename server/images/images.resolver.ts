import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { ConnectionType, PageArgs } from '../common/pagination';
import { Image } from './image.entity';

export const ImageConnection = ConnectionType(Image);

/** The image catalogue is shared: anyone signed in sees it; only the provider changes it. */
@Authorized()
@Resolver(() => Image)
export class ImagesResolver {
  @Query(() => Image)
  image(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Image> {
    return ctx.services.images.get(ctx.actor!, id);
  }

  @Query(() => ImageConnection)
  images(@Args() page: PageArgs, @Ctx() ctx: Context) {
    return ctx.services.images.list(ctx.actor!, page);
  }

  @Authorized(Permission.INFRASTRUCTURE_WRITE)
  @Mutation(() => Image, { description: 'Removes an image from the repository; refused while containers use it.' })
  deleteImage(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Image> {
    return ctx.services.images.delete(ctx.actor!, id);
  }
}
