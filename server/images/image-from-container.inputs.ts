import { Matches } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';

/** The repository's image names (the tarball is `<name>.tar.gz`). */
export const IMAGE_NAME = /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

@InputType()
export class CreateImageFromContainerInput {
  @Field(() => ID, { description: 'The container to publish; it may be running (then a snapshot of it is published).' })
  containerId!: string;

  @Field({ description: 'The new image’s name in the repository: 2–63 lower-case letters, digits or hyphens, unique.' })
  @Matches(IMAGE_NAME, { message: 'an image name is 2–63 lower-case letters, digits or hyphens, starting with a letter' })
  name!: string;
}
