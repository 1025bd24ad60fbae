import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export enum AuditOutcome {
  SUCCESS = 'SUCCESS',
  FAILURE = 'FAILURE',
}
registerEnumType(AuditOutcome, { name: 'AuditOutcome' });

/**
 * One mutation, successful or not. No foreign keys on purpose: the trail outlives the users,
 * accounts and objects it names.
 */
@ObjectType()
@Entity('audit_events')
@Index(['accountPath', 'id'])
export class AuditEvent {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Field(() => ID, { nullable: true, description: 'The user who acted; null for anonymous calls such as a failed login.' })
  @Column({ type: 'varchar', length: 36, nullable: true })
  actorUserId!: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 254, nullable: true })
  actorEmail!: string | null;

  @Field(() => ID, { nullable: true, description: 'The API token used, if any.' })
  @Column({ type: 'varchar', length: 36, nullable: true })
  actorTokenId!: string | null;

  @Field(() => ID, { nullable: true, description: 'The account the action concerned.' })
  @Column({ type: 'varchar', length: 36, nullable: true })
  accountId!: string | null;

  /** Copied from the account so that visibility is a prefix match even after the account is gone. */
  @Column({ type: 'varchar', length: 120, nullable: true })
  accountPath!: string | null;

  @Field({ description: 'What was attempted, as `noun.verb`, e.g. `project.create`.' })
  @Column({ type: 'varchar', length: 64 })
  action!: string;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 32, nullable: true })
  targetType!: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 64, nullable: true })
  targetId!: string | null;

  @Field(() => AuditOutcome)
  @Column({ type: 'simple-enum', enum: AuditOutcome })
  outcome!: AuditOutcome;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 64, nullable: true })
  errorCode!: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 64, nullable: true })
  sourceAddress!: string | null;

  @Field()
  @Column({ type: 'varchar', length: 36 })
  requestId!: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Facts beyond the target, e.g. `{ durationMs, reason }` on `container.console.close`.' })
  @Column({ type: 'simple-json', nullable: true })
  details!: Record<string, unknown> | null;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;
}
