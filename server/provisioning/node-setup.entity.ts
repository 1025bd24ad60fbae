import { Field, Int, ObjectType } from 'type-graphql';
import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Node } from '../nodes/node.entity';

/** How Corral reaches a node over SSH (connectNode), and where its setup stands. No password or private key is kept. */
@ObjectType('NodeSetup')
@Entity('node_setups')
export class NodeSetup {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  nodeId!: string;

  @OneToOne(() => Node, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'nodeId' })
  node?: Node;

  @Field()
  @Column({ type: 'varchar', length: 255 })
  host!: string;

  @Field(() => Int)
  @Column({ type: 'integer' })
  port!: number;

  @Field()
  @Column({ type: 'varchar', length: 64 })
  user!: string;

  @Field(() => String, { nullable: true, description: "The node's SSH host key (`SHA256:…`, as `ssh-keygen -l` prints it), pinned at the first connection; every later connection must present it." })
  @Column({ type: 'varchar', length: 100, nullable: true })
  hostKeyFingerprint!: string | null;

  @Field(() => String, { nullable: true, description: 'The OS found in /etc/os-release (PRETTY_NAME).' })
  @Column({ type: 'varchar', length: 200, nullable: true })
  os!: string | null;

  @Field({ description: "Whether Corral's own SSH key is in the user's authorized_keys (then no password is needed again)." })
  @Column({ type: 'boolean', default: false })
  corralKeyInstalled!: boolean;

  @Field(() => String, { nullable: true, description: 'The step running now, or the one that failed (status FAILED).' })
  @Column({ type: 'varchar', length: 200, nullable: true })
  step!: string | null;

  @Field(() => String, { nullable: true, description: "The failing step's output or error (status FAILED): for a playbook task, its message, the PLAY RECAP and the output's last lines." })
  @Column({ type: 'text', nullable: true })
  output!: string | null;

  @Field(() => Int, { nullable: true, description: "How many tasks the last successful playbook run changed (PLAY RECAP's `changed=`): 0 on a node already set up. Null before the playbook has run." })
  @Column({ type: 'integer', nullable: true })
  changedTasks!: number | null;

  @Field()
  @UpdateDateColumn()
  updatedAt!: Date;
}
