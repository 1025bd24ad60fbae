import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** An installed licence: the signed document as given, and what it grants. The newest installed one counts. */
@ObjectType()
@Entity('licences')
export class Licence {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Field()
  @Column({ type: 'varchar', length: 200 })
  licensee!: string;

  @Field(() => Int)
  @Column({ type: 'integer' })
  maxNodes!: number;

  @Field(() => Int)
  @Column({ type: 'integer' })
  maxContainers!: number;

  @Field()
  @Column()
  expiresAt!: Date;

  /** The signed document, kept so that it can be verified again. */
  @Column({ type: 'text' })
  document!: string;

  @Field()
  @CreateDateColumn()
  installedAt!: Date;
}
