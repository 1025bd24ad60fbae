import { GraphQLBigInt } from 'graphql-scalars';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Project } from '../accounts/project.entity';
import { bigintColumn, Node } from '../nodes/node.entity';

export enum ContainerStatus {
  CREATING = 'CREATING',
  RUNNING = 'RUNNING',
  STOPPED = 'STOPPED',
  STARTING = 'STARTING',
  STOPPING = 'STOPPING',
  ERROR = 'ERROR',
  UNKNOWN = 'UNKNOWN',
  DELETING = 'DELETING',
}
registerEnumType(ContainerStatus, { name: 'ContainerStatus' });

/** A system container on one node. Its LXD instance has the same name, in the LXD project of its tenant project. */
@ObjectType()
@Entity('containers')
@Index(['projectId', 'name'], { unique: true })
export class Container {
  @Field(() => ID)
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Index()
  @Column({ type: 'varchar', length: 36 })
  projectId!: string;

  @ManyToOne(() => Project, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'projectId' })
  project?: Project;

  @Index()
  @Column({ type: 'varchar', length: 36 })
  nodeId!: string;

  @ManyToOne(() => Node, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'nodeId' })
  node?: Node;

  @Field()
  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Column({ type: 'varchar', length: 36 })
  imageId!: string;

  @Field(() => Int)
  @Column({ type: 'integer' })
  cpu!: number;

  @Field(() => GraphQLBigInt)
  @Column(bigintColumn)
  memoryBytes!: number;

  @Field(() => GraphQLBigInt)
  @Column(bigintColumn)
  diskBytes!: number;

  @Field(() => Int, { nullable: true, description: 'Hard cap on CPU time in percent of one CPU (`limits.cpu.allowance`); null: none.' })
  @Column({ type: 'integer', nullable: true })
  cpuLimitPercent!: number | null;

  @Field(() => Int, { nullable: true, description: 'CPU weight 0–10 (`limits.cpu.priority`); null: LXD’s default.' })
  @Column({ type: 'integer', nullable: true })
  cpuWeight!: number | null;

  @Field(() => ContainerStatus)
  @Column({ type: 'simple-enum', enum: ContainerStatus })
  status!: ContainerStatus;

  @Field(() => String, { nullable: true, description: 'Why the container is in ERROR, when it is.' })
  @Column({ type: 'varchar', length: 500, nullable: true })
  statusReason!: string | null;

  @Field()
  @CreateDateColumn()
  createdAt!: Date;

  @Field()
  @UpdateDateColumn()
  updatedAt!: Date;
}
