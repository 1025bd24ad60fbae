import { utils } from 'ssh2';
import { In, type DataSource } from 'typeorm';
import { Account, AccountKind } from '../accounts/account.entity';
import type { Actor } from '../app/actor';
import { badInput, CorralError, ErrorCode, notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { isId } from '../common/ids';
import type { NodesService } from '../nodes/nodes.service';
import { Node, NodeStatus } from '../nodes/node.entity';
import { Operation, OperationState } from '../operations/operation.entity';
import type { OperationsService } from '../operations/operations.service';
import type { OperationRunner } from '../operations/runner';
import { NodeSetup } from './node-setup.entity';
import type { ConnectNodeInput, RetryNodeSetupInput } from './node-setup.inputs';
import type { FabricService } from '../network/fabric.service';
import type { FirewallService } from '../firewall/firewall.service';
import { AnsiblePlaybookRunner, type PlaybookRunner } from './ansible-runner';
import { Ssh2Transport, type SshTransport } from './ssh-transport';
import { SshIdentity } from './ssh-identity.entity';

/** The operation that sets a node up over SSH (connectNode, retryNodeSetup). */
export const SETUP = 'node.setup';
export const CONNECT = 'node.connect';
export const RETRY = 'node.setup.retry';
const IDENTITY_ID = 'corral';

/** What the setup needs once and never stores: kept in this process's memory for its operation only. */
export interface SetupSecrets {
  password?: string;
  privateKey?: string;
  lxdTrustPassword?: string;
}

/** LXD's address on a node reached over SSH at `host`. */
export const lxdUrlOf = (host: string) => `https://${host.includes(':') ? `[${host}]` : host}:8443`;

/**
 * connectNode and retryNodeSetup (provider admins): the node row and its setup are recorded with
 * a `node.setup` operation in one transaction, then the operation connects over SSH, pins the
 * host key, checks the OS, installs Corral's own key, runs the node playbook (ansible/node.yml)
 * and joins LXD through the server certificate read over SSH.
 */
export class NodeSetupService {
  runner!: OperationRunner;
  /** How nodes are reached over SSH (ssh2; tests put a fake here). */
  transport: SshTransport = new Ssh2Transport();
  /** How the node playbook runs (ansible-playbook; tests put a fake here). Set from the configuration in services.ts. */
  playbook: PlaybookRunner = new AnsiblePlaybookRunner();
  /** Told when a node became READY, to rewrite the cluster's BGP peers (set in services.ts). */
  fabric: Pick<FabricService, 'syncCluster'> | null = null;
  /** Puts Corral's nftables table on a node that became READY (errors logged, never thrown). */
  firewall: Pick<FirewallService, 'refreshQuietly'> | null = null;
  /** Passwords and keys for the operations this process runs, by operation id. Never written anywhere. */
  readonly secrets = new Map<string, SetupSecrets>();
  private identityOnce: Promise<SshIdentity> | undefined;

  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly operations: OperationsService,
    private readonly nodes: NodesService,
  ) {}

  /** Corral's SSH key pair: generated on first use (ed25519), kept in the database, never shown but its public half. */
  identity(): Promise<SshIdentity> {
    this.identityOnce ??= (async () => {
      const stored = await this.db.manager.findOneBy(SshIdentity, { id: IDENTITY_ID });
      if (stored) return stored;
      const pair = utils.generateKeyPairSync('ed25519', { comment: 'corral' });
      // Another replica may have stored one meanwhile: the first one stored wins.
      await this.db.manager.createQueryBuilder().insert().into(SshIdentity).values({ id: IDENTITY_ID, privateKey: pair.private, publicKey: pair.public.trim() }).orIgnore().execute();
      return this.db.manager.findOneByOrFail(SshIdentity, { id: IDENTITY_ID });
    })();
    this.identityOnce.catch(() => (this.identityOnce = undefined));
    return this.identityOnce;
  }

  setupOf(nodeId: string): Promise<NodeSetup | null> {
    return this.db.manager.findOneBy(NodeSetup, { nodeId });
  }

  async connect(actor: Actor, input: ConnectNodeInput, idempotencyKey?: string | null): Promise<Node> {
    if (!input.password && !input.privateKey) throw badInput('give the password or the private key of the SSH user', 'password');
    if (input.password && input.privateKey) throw badInput('give either a password or a private key, not both', 'privateKey');
    const recorded = { clusterId: input.clusterId, name: input.name, host: input.host, port: input.port, user: input.user, joinLxd: Boolean(input.lxdTrustPassword) };
    return this.recordingSetup((keep) =>
      this.audit.within({ actor, request: actor.request }, CONNECT, async (em, draft) => {
        draft.target('node', null);
        const provider = await em.findOneByOrFail(Account, { kind: AccountKind.PROVIDER });
        const replay = await this.operations.replayOf(em, provider, idempotencyKey, SETUP, recorded);
        if (replay) {
          const node = await em.findOneBy(Node, { id: replay.nodeId! });
          if (!node) throw notFound('Node');
          draft.target('node', node.id);
          return node;
        }
        const { node } = await this.nodes.newNode(em, { clusterId: input.clusterId, name: input.name, url: lxdUrlOf(input.host), status: NodeStatus.SETTING_UP }, {
          message: `a node at ${input.host} is already connected (a FAILED one is continued with retryNodeSetup)`,
          field: 'host',
        });
        await em.insert(Node, node);
        await em.insert(NodeSetup, { nodeId: node.id, host: input.host, port: input.port, user: input.user, hostKeyFingerprint: null, os: null, corralKeyInstalled: false, step: 'queued', output: null });
        draft.target('node', node.id);
        const operation = await this.operations.record(em, actor, { account: provider, action: SETUP, containerId: null, nodeId: node.id, input: recorded, idempotencyKey });
        // Before the commit: a sweeping runner may claim the operation as soon as it is visible.
        keep(operation.id, { password: input.password, privateKey: input.privateKey, lxdTrustPassword: input.lxdTrustPassword });
        return node;
      }),
    );
  }

  /**
   * Runs the setup of a FAILED or SSH_READY node again: steps already done (host key pinned,
   * Corral's key installed) are checked, not redone, and the playbook converges. A READY or
   * OFFLINE node connected over SSH runs the playbook again without leaving its status (a second
   * run on a node in shape changes nothing: `setup.changedTasks` 0). Credentials are needed only
   * while Corral's key is not installed. A node being set up answers OPERATION_IN_PROGRESS;
   * any other (DRAINING, MAINTENANCE) is answered as it is.
   */
  async retry(actor: Actor, input: RetryNodeSetupInput): Promise<Node> {
    if (input.password && input.privateKey) throw badInput('give either a password or a private key, not both', 'privateKey');
    return this.recordingSetup((keep) =>
      this.audit.within({ actor, request: actor.request }, RETRY, async (em, draft) => {
        draft.target('node', input.id);
        const node = isId(input.id) ? await em.findOneBy(Node, { id: input.id }) : null;
        const setup = node ? await em.findOneBy(NodeSetup, { nodeId: node.id }) : null;
        if (!node) throw notFound('Node');
        if (!setup) throw badInput(`node ${node.name} was added with addNode, not connected over SSH: there is no setup to retry`, 'id');
        if (node.status === NodeStatus.SETTING_UP) throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `node ${node.name} is being set up; follow its operation`);
        // A joined node (READY, OFFLINE) runs the playbook again where it stands, serving meanwhile: the playbook converges, so on a node in shape it changes nothing.
        const rerun = node.status === NodeStatus.READY || node.status === NodeStatus.OFFLINE;
        if (!rerun && node.status !== NodeStatus.FAILED && node.status !== NodeStatus.SSH_READY) return node;
        if (!setup.corralKeyInstalled && !input.password && !input.privateKey) throw badInput("Corral's key is not installed on the node yet: give the password or the private key of the SSH user", 'password');
        // The status write comes first: on PostgreSQL it locks the node's row, so that two retries take turns.
        await em.update(Node, { id: node.id }, { status: rerun ? node.status : NodeStatus.SETTING_UP });
        if (rerun && (await em.existsBy(Operation, { nodeId: node.id, action: SETUP, state: In([OperationState.PENDING, OperationState.RUNNING]) }))) {
          throw new CorralError(ErrorCode.OPERATION_IN_PROGRESS, `node ${node.name} is being set up again; follow its operation`);
        }
        await em.update(NodeSetup, { nodeId: node.id }, { step: 'queued', output: null });
        const provider = await em.findOneByOrFail(Account, { kind: AccountKind.PROVIDER });
        const operation = await this.operations.record(em, actor, { account: provider, action: SETUP, containerId: null, nodeId: node.id, input: { nodeId: node.id, retry: true, joinLxd: Boolean(input.lxdTrustPassword) } });
        keep(operation.id, { password: input.password, privateKey: input.privateKey, lxdTrustPassword: input.lxdTrustPassword });
        if (!rerun) node.status = NodeStatus.SETTING_UP;
        return node;
      }),
    );
  }

  /**
   * Runs the audited transaction that records a `node.setup` operation and kicks the operation
   * once it committed. The credentials `keep` is given live in this process's memory only; if
   * the transaction fails, they go at once.
   */
  private async recordingSetup(transaction: (keep: (operationId: string, secrets: SetupSecrets) => void) => Promise<Node>): Promise<Node> {
    let operationId: string | null = null;
    try {
      const node = await transaction((id, secrets) => {
        operationId = id;
        this.secrets.set(id, secrets);
      });
      if (operationId) this.runner.kick(operationId);
      return node;
    } catch (error) {
      if (operationId) this.secrets.delete(operationId);
      throw error;
    }
  }
}
