import { IsOptional, Matches } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { CONTAINER_NAME } from './containers.inputs';

@InputType()
export class CloneContainerInput {
  @Field(() => ID, { description: 'The container to copy; it may be running.' })
  containerId!: string;

  @Field({ description: 'The clone’s name: a hostname label, unique in the project (the clone stays in the source’s project).' })
  @Matches(CONTAINER_NAME, { message: 'name must be 1–63 letters, digits or hyphens, start with a letter and not end with a hyphen' })
  name!: string;

  @Field(() => ID, { nullable: true, description: 'Put the clone on this node of the same cluster (provider admins only); by default it goes on the source’s node.' })
  @IsOptional()
  targetNodeId?: string;
}
