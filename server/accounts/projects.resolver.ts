import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../app/context';
import { Permission } from '../auth/permissions';
import { ConnectionType } from '../common/pagination';
import { Account } from './account.entity';
import { ByAccountArgs, CreateProjectInput } from './accounts.inputs';
import { Project } from './project.entity';

export const ProjectConnection = ConnectionType(Project);

@Authorized()
@Resolver(() => Project)
export class ProjectsResolver {
  @Authorized(Permission.PROJECTS_READ)
  @Query(() => Project)
  project(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Project> {
    return ctx.services.projects.get(ctx.actor!, id);
  }

  @Authorized(Permission.PROJECTS_READ)
  @Query(() => ProjectConnection)
  projects(@Args() args: ByAccountArgs, @Ctx() ctx: Context) {
    return ctx.services.projects.list(ctx.actor!, args);
  }

  @Authorized(Permission.PROJECTS_WRITE)
  @Mutation(() => Project)
  createProject(@Arg('input') input: CreateProjectInput, @Ctx() ctx: Context): Promise<Project> {
    return ctx.services.projects.create(ctx.actor!, input);
  }

  @Authorized(Permission.PROJECTS_WRITE)
  @Mutation(() => Project, { description: 'Deletes the project and returns it as it was.' })
  deleteProject(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Project> {
    return ctx.services.projects.delete(ctx.actor!, id);
  }

  @FieldResolver(() => Account)
  async account(@Root() project: Project, @Ctx() ctx: Context): Promise<Account> {
    return (await ctx.loaders.accountById.load(project.accountId))!;
  }
}
