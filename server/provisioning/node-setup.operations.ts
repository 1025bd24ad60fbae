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
import { checkSupportedOs, parseOsRelease } from './os-release';
import type { SshTarget } from './ssh-transport';

/** The status a node keeps when the SSH steps are done but LXD is not joined: what comes next is the Ansible playbook (a later step). */
export const SSH_READY_STEP = 'SSH ready; installing LXD with Ansible is not available yet: retryNodeSetup with lxdTrustPassword once LXD runs on the node';

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
 * The `node.setup` handler. Each step is recorded on the node's setup row before it runs, so a
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
        await db.manager.update(NodeSetup, { nodeId: node.id }, { step: text });
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
      own.close();
      await db.manager.update(NodeSetup, { nodeId: node.id }, { corralKeyInstalled: true });

      if (!secrets.lxdTrustPassword) {
        await db.manager.update(NodeSetup, { nodeId: node.id }, { step: SSH_READY_STEP, output: null });
        await db.manager.update(Node, { id: node.id }, { status: NodeStatus.SSH_READY, lastError: null, lastSeenAt: new Date() });
        await step.progress(99, SSH_READY_STEP);
      } else {
        await at(85, `joining LXD at ${node.url}`);
        const cluster = await db.manager.findOneByOrFail(Cluster, { id: node.clusterId });
        await nodes.enrolInto(node, cluster.storagePool, secrets.lxdTrustPassword);
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
        await step.progress(99, `${node.name} is READY`);
      }
      setups.secrets.delete(operation.id);
      nodes.live?.nodeChanged(node.id);
    },
    // Every step looks at what is there: running again resumes (without the credentials if this process did not keep them).
    recover: (operation, step) => handler.run(operation, step),
    async onFailure(operation: Operation, error: unknown) {
      setups.secrets.delete(operation.id);
      const message = error instanceof Error ? error.message : String(error);
      log.warn({ operation: operation.id, node: operation.nodeId, err: message }, 'node setup failed');
      await db.manager.update(NodeSetup, { nodeId: operation.nodeId! }, { output: message.slice(0, 10_000) });
      await db.manager.update(Node, { id: operation.nodeId! }, { status: NodeStatus.FAILED, lastError: message.slice(0, 500) });
      nodes.live?.nodeChanged(operation.nodeId!);
    },
  };
  return { [SETUP]: handler };
}
