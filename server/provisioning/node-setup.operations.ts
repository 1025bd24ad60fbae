import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import type { Logger } from '../app/logger';
import { Cluster } from '../clusters/cluster.entity';
import { Node, NodeStatus } from '../nodes/node.entity';
import type { NodesService } from '../nodes/nodes.service';
import type { Operation } from '../operations/operation.entity';
import type { OperationHandler, Step } from '../operations/runner';
import { NodeSetup } from './node-setup.entity';
import { SETUP, type NodeSetupService } from './node-setup.service';
import { taskProgress } from './ansible-output';
import { PlaybookFailedError } from './ansible-runner';
import { checkSupportedOs, parseOsRelease } from './os-release';
import type { SshTarget } from './ssh-transport';

/** Reads LXD's server certificate on the node, from the LXD directory the node's environment names (the lab sets LXD_DIR per node). */
export const READ_SERVER_CERTIFICATE = 'cat "${LXD_DIR:-/var/lib/lxd}/server.crt"';

/** Appends a line to ~/.ssh/authorized_keys unless it is there already (so that a second run changes nothing). */
export const installKeyScript = (publicKey: string) => {
  if (/['\n]/.test(publicKey)) throw new Error('unexpected character in the public key');
  return [
    'set -e',
    'umask 077',
    'mkdir -p ~/.ssh',
    'touch ~/.ssh/authorized_keys',
    `if ! grep -qxF '${publicKey}' ~/.ssh/authorized_keys; then`,
    '  if [ -s ~/.ssh/authorized_keys ] && [ -n "$(tail -c1 ~/.ssh/authorized_keys)" ]; then echo >> ~/.ssh/authorized_keys; fi',
    `  printf '%s\\n' '${publicKey}' >> ~/.ssh/authorized_keys`,
    '  echo installed',
    'fi',
  ].join('\n');
};

/**
 * The `node.setup` handler: SSH (host key, OS, Corral's key), then the node playbook, then LXD
 * joined through the certificate read over SSH. Each step is recorded on the node's setup row before it runs, so a
 * failure leaves the node FAILED with the failing step and its output; every step checks what is
 * there already, so running again (retryNodeSetup, or recovery after a crash) picks up from there.
 */
export function nodeSetupHandlers(db: DataSource, setups: NodeSetupService, nodes: NodesService, log: Logger, timeoutMs = 10_000): Record<string, OperationHandler> {
  const handler: OperationHandler = {
    async run(operation: Operation, step: Step) {
      const secrets = setups.secrets.get(operation.id) ?? {};
      const node = await db.manager.findOneBy(Node, { id: operation.nodeId! });
      if (!node) throw new CorralError(ErrorCode.NOT_FOUND, 'the node is gone');
      const setup = await db.manager.findOneByOrFail(NodeSetup, { nodeId: node.id });
      const at = async (percent: number, text: string) => {
        await db.manager.update(NodeSetup, { nodeId: node.id }, { step: text.slice(0, 200) });
        await step.progress(percent, text);
      };
      const identity = await setups.identity();
      const target = (credentials: Pick<SshTarget, 'password' | 'privateKey'>): SshTarget => ({ host: setup.host, port: setup.port, user: setup.user, hostKey: setup.hostKeyFingerprint, timeoutMs, ...credentials });

      await at(5, `connecting to ${setup.user}@${setup.host}:${setup.port}`);
      let credentials: Pick<SshTarget, 'password' | 'privateKey'>;
      if (setup.corralKeyInstalled) credentials = { privateKey: identity.privateKey };
      else if (secrets.password) credentials = { password: secrets.password };
      else if (secrets.privateKey) credentials = { privateKey: secrets.privateKey };
      else throw new CorralError(ErrorCode.BAD_USER_INPUT, "Corral's key is not installed on the node yet and the credentials were not kept (they never are past one run): retryNodeSetup with the password or the private key");
      const session = await setups.transport.open(target(credentials));
      try {
        await at(20, 'pinning the SSH host key');
        if (!setup.hostKeyFingerprint) {
          setup.hostKeyFingerprint = session.hostKey;
          await db.manager.update(NodeSetup, { nodeId: node.id }, { hostKeyFingerprint: session.hostKey });
        }

        await at(35, 'detecting the OS (/etc/os-release)');
        const release = await session.exec('cat /etc/os-release');
        if (release.code !== 0) throw new CorralError(ErrorCode.UNSUPPORTED_OS, `cannot read /etc/os-release (exit ${release.code}): ${release.stderr.trim()}`);
        await db.manager.update(NodeSetup, { nodeId: node.id }, { os: parseOsRelease(release.stdout).name.slice(0, 200) });
        checkSupportedOs(release.stdout);

        await at(55, "installing Corral's SSH key in authorized_keys");
        if (!setup.corralKeyInstalled) {
          const installed = await session.exec(installKeyScript(identity.publicKey));
          if (installed.code !== 0) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `installing Corral's key failed (exit ${installed.code}): ${(installed.stderr || installed.stdout).trim()}`);
        }
      } finally {
        session.close();
      }

      // Proof that Corral no longer needs the user's credentials.
      await at(70, "connecting with Corral's own key");
      const own = await setups.transport.open(target({ privateKey: identity.privateKey }));
      const hostKeyLine = own.hostKeyLine;
      own.close();
      await db.manager.update(NodeSetup, { nodeId: node.id }, { corralKeyInstalled: true });

      const cluster = await db.manager.findOneByOrFail(Cluster, { id: node.clusterId });
      if (!hostKeyLine) throw new CorralError(ErrorCode.NODE_SETUP_FAILED, 'the SSH transport did not give the host key it verified, which ansible-playbook must be held to', { step: 'ansible-playbook' });
      await at(72, 'running the node playbook (ansible-playbook)');
      const played = await setups.playbook.run(
        {
          host: setup.host,
          port: setup.port,
          user: setup.user,
          privateKey: identity.privateKey,
          hostKeyLine,
          vars: {
            corral_node_address: setup.host,
            corral_storage_pool: cluster.storagePool,
            corral_storage_driver: cluster.storageDriver.toLowerCase(),
            corral_client_certificate: await nodes.clientCertificate(),
            corral_lxd_trust_password: secrets.lxdTrustPassword ?? '',
            corral_fabric_asn: cluster.fabricAsn,
          },
        },
        (task, index) => at(taskProgress(index, 72, 92), task),
      );
      await db.manager.update(NodeSetup, { nodeId: node.id }, { changedTasks: played.changed });
      log.info({ node: node.name, changed: played.changed }, 'node playbook done');

      // Over the pinned SSH connection: the certificate to pin is never taken on first use over TLS.
      await at(94, "reading LXD's server certificate over SSH");
      const reading = await setups.transport.open(target({ privateKey: identity.privateKey }));
      let serverCertificate: string;
      try {
        const read = await reading.exec(READ_SERVER_CERTIFICATE);
        if (read.code !== 0 || !read.stdout.includes('BEGIN CERTIFICATE')) throw new CorralError(ErrorCode.NODE_SETUP_FAILED, `LXD's server certificate is not on the node (exit ${read.code}): ${(read.stderr || read.stdout).trim().slice(0, 500)}`, { step: "reading LXD's server certificate" });
        serverCertificate = read.stdout.trim() + '\n';
      } finally {
        reading.close();
      }

      await at(97, `joining LXD at ${node.url}`);
      await nodes.enrolInto(node, cluster.storagePool, { serverCertificate });
      await db.manager.update(Node, { id: node.id }, {
        fingerprint: node.fingerprint,
        serverCertificate: node.serverCertificate,
        cpuThreads: node.cpuThreads,
        memoryBytes: node.memoryBytes,
        diskBytes: node.diskBytes,
        capabilities: node.capabilities,
        status: NodeStatus.READY,
        lastError: null,
        lastSeenAt: new Date(),
      });
      await db.manager.update(NodeSetup, { nodeId: node.id }, { step: 'ready', output: null });
      await step.progress(98, `${node.name} is READY; writing the BGP peers of cluster ${cluster.name}`);
      // Errors there are recorded on the nodes, never fail the setup.
      await setups.fabric?.syncCluster(cluster.id);
      await setups.firewall?.refreshQuietly(node.id);
      setups.secrets.delete(operation.id);
      nodes.live?.nodeChanged(node.id);
    },
    // Every step looks at what is there: running again resumes (without the credentials if this process did not keep them).
    recover: (operation, step) => handler.run(operation, step),
    async onFailure(operation: Operation, error: unknown) {
      setups.secrets.delete(operation.id);
      const message = error instanceof Error ? error.message : String(error);
      log.warn({ operation: operation.id, node: operation.nodeId, err: message }, 'node setup failed');
      // A failing playbook task names the step itself (the recorded step may lag behind a lost progress write).
      const failed = error instanceof PlaybookFailedError ? { step: error.step.slice(0, 200), output: error.output.slice(0, 10_000) } : { output: message.slice(0, 10_000) };
      await db.manager.update(NodeSetup, { nodeId: operation.nodeId! }, failed);
      await db.manager.update(Node, { id: operation.nodeId! }, { status: NodeStatus.FAILED, lastError: message.slice(0, 500) });
      nodes.live?.nodeChanged(operation.nodeId!);
    },
  };
  return { [SETUP]: handler };
}
