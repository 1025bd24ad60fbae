import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AccountsResolver } from '../accounts/accounts.resolver';
import { ProjectsResolver } from '../accounts/projects.resolver';
import { UsersResolver } from '../accounts/users.resolver';
import { AuditResolver } from '../audit/audit.resolver';
import { AuthResolver } from '../auth/auth.resolver';
import { LoginResolver } from '../auth/login.resolver';
import { ClustersResolver } from '../clusters/clusters.resolver';
import { ContainerAddressesResolver, IpPoolsResolver } from '../network/ip-pools.resolver';
import { ContainerAddressMutationsResolver } from '../network/addresses.resolver';
import { CloneResolver } from '../containers/clone.resolver';
import { BackupsResolver, ContainerBackupsResolver } from '../backups/backups.resolver';
import { ContainersResolver } from '../containers/containers.resolver';
import { MigrationResolver } from '../containers/migration.resolver';
import { NicsResolver } from '../containers/nics.resolver';
import { FirewallResolver } from '../firewall/firewall.resolver';
import { RootPasswordResolver } from '../containers/root-password.resolver';
import { ResourcesResolver } from '../containers/resources.resolver';
import { ImageFromContainerResolver } from '../images/image-from-container.resolver';
import { ImagesResolver } from '../images/images.resolver';
import { LicencesResolver } from '../licences/licences.resolver';
import { MetricsResolver } from '../metrics/metrics.resolver';
import { LiveResolver } from '../live/live.resolver';
import { DrainResolver } from '../nodes/drain.resolver';
import { NodeSetupResolver } from '../provisioning/node-setup.resolver';
import { NodesResolver } from '../nodes/nodes.resolver';
import { OperationsResolver } from '../operations/operations.resolver';
import { authChecker } from './auth-checker';
import { createCorralPubSub, type CorralPubSub } from './pubsub';

/** Every resolver class. All but LoginResolver carry @Authorized() (a test holds us to that). */
export const resolvers = [
  LoginResolver,
  AuthResolver,
  AccountsResolver,
  ProjectsResolver,
  UsersResolver,
  AuditResolver,
  ClustersResolver,
  IpPoolsResolver,
  ContainerAddressesResolver,
  ContainerAddressMutationsResolver,
  NodesResolver,
  DrainResolver,
  NodeSetupResolver,
  ImagesResolver,
  ContainersResolver,
  ResourcesResolver,
  RootPasswordResolver,
  MigrationResolver,
  BackupsResolver,
  ContainerBackupsResolver,
  NicsResolver,
  FirewallResolver,
  CloneResolver,
  ImageFromContainerResolver,
  OperationsResolver,
  LicencesResolver,
  MetricsResolver,
  LiveResolver,
] as const;

/**
 * The GraphQL schema, built from the code. Subscriptions check access in their own `subscribe`
 * before they attach to the pubsub.
 */
export function buildCorralSchema(pubSub: CorralPubSub = createCorralPubSub()): Promise<GraphQLSchema> {
  return buildSchema({
    pubSub,
    resolvers,
    authChecker,
    authMode: 'error',
    validate: { forbidUnknownValues: true },
    emitSchemaFile: false,
  });
}
