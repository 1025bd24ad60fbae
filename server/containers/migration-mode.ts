import { registerEnumType } from 'type-graphql';

/** Which node opens the connection that carries a migrated container (LXD-NOTES section 8). */
export enum MigrationMode {
  /** The target dials the source (LXD's default). */
  PULL = 'PULL',
  /** The source dials the target: for a target that cannot reach the source. */
  PUSH = 'PUSH',
}
registerEnumType(MigrationMode, {
  name: 'MigrationMode',
  description: 'Which node opens the connection that carries the container.',
  valuesConfig: {
    PULL: { description: 'The target node connects to the source node (the default).' },
    PUSH: { description: 'The source node connects to the target node: for a target that cannot reach the source.' },
  },
});
