import type { DataSource } from 'typeorm';
import { AccountsService } from '../accounts/accounts.service';
import { ProjectsService } from '../accounts/projects.service';
import { UsersService } from '../accounts/users.service';
import { AuditEventsService } from '../audit/audit-events.service';
import { AuditService } from '../audit/audit.service';
import { ApiTokensService } from '../auth/api-tokens.service';
import { SessionsService } from '../auth/sessions.service';
import { ClustersService } from '../clusters/clusters.service';
import { IpamService } from '../network/ipam.service';
import { addressNodesFor } from '../network/addresses.gateway';
import { addressHandlers } from '../network/addresses.operations';
import { ContainerAddressesService, notifyNetworkChanged } from '../network/addresses.service';
import { NodeShell } from '../provisioning/node-shell';
import { AnsiblePlaybookRunner, DEFAULT_ANSIBLE_DIR } from '../provisioning/ansible-runner';
import { FabricService } from '../network/fabric.service';
import { FirewallService } from '../firewall/firewall.service';
import { cloneNodesFor } from '../containers/clone.gateway';
import { cloneHandlers } from '../containers/clone.operations';
import { CloneService } from '../containers/clone.service';
import { containerHandlers } from '../containers/container.operations';
import { ContainersService } from '../containers/containers.service';
import { ConsoleService } from '../containers/console.service';
import { BackupArchive } from '../backups/backup-archive';
import { backupCarrier } from '../backups/backup-carry';
import { backupNodesFor } from '../backups/backups.gateway';
import { backupHandlers } from '../backups/backups.operations';
import { BackupScheduler } from '../backups/backup-scheduler';
import { BackupsService } from '../backups/backups.service';
import { migrationNodesFor } from '../containers/migration.gateway';
import { nicsGatewayFor } from '../containers/nics.gateway';
import { nicHandlers } from '../containers/nics.operations';
import { NicsService } from '../containers/nics.service';
import { migrationHandlers } from '../containers/migration.operations';
import { MigrationService } from '../containers/migration.service';
import { rootPasswordNodesFor } from '../containers/root-password.gateway';
import { rootPasswordHandlers } from '../containers/root-password.operations';
import { RootPasswordService } from '../containers/root-password.service';
import { resourcesGatewayFor } from '../containers/resources.gateway';
import { resourceHandlers } from '../containers/resources.operations';
import { ResourcesService } from '../containers/resources.service';
import { imagePublishNodesFor } from '../images/image-from-container.gateway';
import { imageFromContainerHandlers } from '../images/image-from-container.operations';
import { ImageFromContainerService } from '../images/image-from-container.service';
import { ImagesService } from '../images/images.service';
import { LicencesService } from '../licences/licences.service';
import { metricsNodesFor } from '../metrics/metrics.gateway';
import { MetricsSampler } from '../metrics/metrics.sampler';
import { MetricsService } from '../metrics/metrics.service';
import { LivePublisher } from '../live/live.publisher';
import { LiveService } from '../live/live.service';
import type { NodeGateway } from '../nodes/node-gateway';
import { drainHandlers } from '../nodes/drain.operations';
import { DrainService } from '../nodes/drain.service';
import { NodeWatch } from '../nodes/node-watch';
import { NodesService } from '../nodes/nodes.service';
import { OperationsService } from '../operations/operations.service';
import { nodeSetupHandlers } from '../provisioning/node-setup.operations';
import { NodeSetupService } from '../provisioning/node-setup.service';
import { OperationRunner } from '../operations/runner';
import type { Config } from './config';
import type { Logger } from './logger';
import type { CorralPubSub } from './pubsub';
import type { RedisLink } from './redis';

/** Every service, built once per process and handed to resolvers through the context. */
export function createServices(db: DataSource, config: Config, pubsub: CorralPubSub, gateway: NodeGateway, log: Logger, redis: RedisLink | null = null) {
  const audit = new AuditService(db, pubsub);
  const livePublisher = new LivePublisher(db, pubsub, log);
  audit.live = livePublisher;
  const licences = new LicencesService(db, audit, config);
  const operations = new OperationsService(db);
  const nodes = new NodesService(db, audit, gateway, licences, log);
  const drains = new DrainService(db, audit, operations, nodes);
  const nodeSetups = new NodeSetupService(db, audit, operations, nodes);
  const nodeShell = new NodeShell(db, nodeSetups);
  nodeSetups.playbook = new AnsiblePlaybookRunner(config.ansible.dir ?? DEFAULT_ANSIBLE_DIR, config.ansible.timeoutMs);
  const fabric = new FabricService(db, nodeShell, log);
  nodeSetups.fabric = fabric;
  const firewall = new FirewallService(db, audit, nodeShell, log);
  nodeSetups.firewall = firewall;
  nodes.onBackOnline = (nodeId) => firewall.refreshQuietly(nodeId);
  const containers = new ContainersService(db, audit, operations, nodes, licences);
  const ipam = new IpamService(db, audit);
  containers.ipam = ipam;
  // Container addresses: every change of a node's containers or their addresses reapplies that node's nftables table.
  const containerAddresses = new ContainerAddressesService(audit, operations, ipam);
  containerAddresses.onNetworkChanged = (nodeId) => firewall.refresh(nodeId);
  const networkChanged = (nodeId: string) => notifyNetworkChanged(containerAddresses.onNetworkChanged, nodeId, log);
  const resourcesGateway = resourcesGatewayFor(gateway);
  const resources = new ResourcesService(audit, operations, nodes, resourcesGateway);
  const nicsGateway = nicsGatewayFor(gateway);
  const backupNodes = backupNodesFor(gateway);
  const backupArchive = new BackupArchive(config.backups.archiveDir);
  const runner: OperationRunner = new OperationRunner(db, log, config.workers.leaseMs, { ...backupHandlers(db, gateway, backupNodes, backupArchive, log), ...containerHandlers(db, gateway, log, backupArchive, networkChanged), ...addressHandlers(db, { nodes: addressNodesFor(gateway), log, onNetworkChanged: () => containerAddresses.onNetworkChanged }), ...nicHandlers(db, nicsGateway, log), ...resourceHandlers(db, resourcesGateway, log), ...rootPasswordHandlers(db, rootPasswordNodesFor(gateway), log), ...migrationHandlers(db, gateway, migrationNodesFor(gateway), log, backupCarrier(db, backupNodes, backupArchive, log), networkChanged), ...drainHandlers(db, drains, operations, (): OperationRunner => runner, log), ...nodeSetupHandlers(db, nodeSetups, nodes, log), ...cloneHandlers(db, gateway, cloneNodesFor(gateway), log), ...imageFromContainerHandlers(db, imagePublishNodesFor(gateway), config.imageDir, log) });
  containers.runner = runner;
  runner.live = livePublisher;
  nodes.live = livePublisher;
  const backups = new BackupsService(db, audit, operations, nodes, licences, backupNodes, config.backups.minIntervalSeconds, backupArchive);
  backups.runner = runner;
  resources.runner = runner;
  nodes.detectCapabilities = (node, pool) => resourcesGateway.capabilities(node, pool);
  const rootPasswords = new RootPasswordService(audit, operations);
  rootPasswords.runner = runner;
  const migrations = new MigrationService(audit, operations, nodes);
  migrations.runner = runner;
  drains.runner = runner;
  nodeSetups.runner = runner;
  containerAddresses.runner = runner;
  const nics = new NicsService(db, audit, operations, nicsGateway);
  nics.runner = runner;
  const clones = new CloneService(audit, operations, nodes, licences);
  clones.runner = runner;
  const imagesFromContainers = new ImageFromContainerService(audit, operations, config.imageDir);
  imagesFromContainers.runner = runner;
  return {
    gateway,
    licences,
    operations,
    nodes,
    containers,
    resources,
    rootPasswords,
    consoles: new ConsoleService(audit),
    migrations,
    drains,
    nodeSetups,
    nodeShell,
    fabric,
    firewall,
    nics,
    clones,
    imagesFromContainers,
    runner,
    backups,
    backupArchive,
    backupScheduler: new BackupScheduler(db, backups, log, config.backups.scheduleMs),
    metrics: new MetricsService(db),
    metricsSampler: new MetricsSampler(db, metricsNodesFor(gateway), pubsub, log, config.metrics),
    clusters: new ClustersService(db, audit),
    ipam,
    containerAddresses,
    images: new ImagesService(db, audit, config.imageDir, log),
    nodeWatch: Object.assign(new NodeWatch(db, gateway, nodes, log, config.workers), { live: livePublisher }),
    live: new LiveService(db, pubsub, log),
    livePublisher,
    pubsub,
    audit,
    auditEvents: new AuditEventsService(db),
    accounts: new AccountsService(db, audit),
    projects: new ProjectsService(db, audit),
    users: new UsersService(db, audit),
    sessions: new SessionsService(db, audit, config, redis),
    apiTokens: new ApiTokensService(db, audit),
  };
}
export type Services = ReturnType<typeof createServices>;
