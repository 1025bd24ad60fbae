import { GraphQLBigInt } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintColumn } from '../nodes/node.entity';

/** An image in Corral's repository: a unified LXD image tarball, copied to a node on first use. */
@ObjectType()
@Entity('images')
export class Image {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Field({ description: 'What containers are created from, e.g. `busybox`.' })
  @Index({ unique: true })
  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Field({ description: "SHA-256 of the tarball: LXD's fingerprint for it." })
  @Index({ unique: true })
  @Column({ type: 'varchar', length: 64 })
  fingerprint!: string;

  @Field(() => GraphQLBigInt)
  @Column(bigintColumn)
  sizeBytes!: number;

  /** Where the tarball lives on this server. */
  @Column({ type: 'varchar', length: 500 })
  path!: string;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}
