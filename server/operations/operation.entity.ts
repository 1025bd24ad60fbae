import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export enum OperationState {
  PENDING = 'PENDING',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
}
registerEnumType(OperationState, { name: 'OperationState' });

/**
 * Work on a node, recorded before anything is sent to LXD. No foreign keys: the record outlives
 * the container it was about. The partial unique index allows one unfinished operation per container.
 */
@ObjectType()
@Entity('operations')
@Index(['accountId', 'idempotencyKey'], { unique: true })
@Index('one_active_operation_per_container', ['containerId'], { unique: true, where: "state IN ('PENDING', 'RUNNING')" })
@Index(['state', 'leaseExpiresAt'])
export class Operation {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Field(() => ID)
  @Column({ type: 'varchar', length: 36 })
  accountId!: string;

  @Index()
  @Column({ type: 'varchar', length: 120 })
  accountPath!: string;

  @Field(() => ID, { nullable: true })
  @Index()
  @Column({ type: 'varchar', length: 36, nullable: true })
  containerId!: string | null;

  @Column({ type: 'varchar', length: 36, nullable: true })
  nodeId!: string | null;

  @Field({ description: 'What the operation does, e.g. `container.create`.' })
  @Column({ type: 'varchar', length: 64 })
  action!: string;

  @Field(() => OperationState)
  @Column({ type: 'simple-enum', enum: OperationState })
  state!: OperationState;

  @Field(() => Int, { description: '0–100.' })
  @Column({ type: 'integer', default: 0 })
  progress!: number;

  @Field(() => String, { nullable: true, description: 'The current step, e.g. `copying image to node`.' })
  @Column({ type: 'varchar', length: 200, nullable: true })
  step!: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 200, nullable: true })
  idempotencyKey!: string | null;

  /** SHA-256 of the action and its input, so a key replayed with other input is refused. */
  @Column({ type: 'varchar', length: 64 })
  requestHash!: string;

  /** The input, as JSON: what the runner needs to carry the work out (or resume it). */
  @Column({ type: 'simple-json' })
  input!: Record<string, unknown>;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 64, nullable: true })
  errorCode!: string | null;

  @Field(() => String, { nullable: true })
  @Column({ type: 'varchar', length: 1000, nullable: true })
  errorMessage!: string | null;

  @Column({ type: 'varchar', length: 36, nullable: true })
  actorUserId!: string | null;

  /** Which process runs it, until when; an expired lease means its runner died. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  leaseOwner!: string | null;

  @Column({ type: Date, nullable: true })
  leaseExpiresAt!: Date | null;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;

  @Field()
  @UpdateDateColumn()
  updatedAt!: Date;

  @Field(() => Date, { nullable: true })
  @Column({ type: Date, nullable: true })
  finishedAt!: Date | null;
}
