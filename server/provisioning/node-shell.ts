import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import { Node } from '../nodes/node.entity';
import { NodeSetup } from './node-setup.entity';
import type { NodeSetupService } from './node-setup.service';
import type { ExecResult, SshSession } from './ssh-transport';

/**
 * A shell here-document carrying `text` to the command's stdin: the SSH transport runs one
 * command line, and Corral's inputs to node tools (nft rulesets, bird configs) are files.
 */
export function withStdin(command: string, text: string): string {
  let delimiter = 'CORRAL_EOF';
  while (text.split('\n').includes(delimiter)) delimiter += '_';
  return `${command} <<'${delimiter}'\n${text}${text.endsWith('\n') ? '' : '\n'}${delimiter}`;
}

/** How long an unused connection to a node stays open for the next command. */
const IDLE_MS = 30_000;

interface OpenSession {
  /** Which pinned target it was opened for: a changed setup row opens a new one. */
  target: string;
  session: Promise<SshSession>;
  /** Commands running on it now: it is only idle at none. */
  users: number;
  idle: NodeJS.Timeout | null;
}

/**
 * Commands on a node over SSH with Corral's own key: the way Corral manages what LXD does not
 * (nftables, bird). Only nodes connected with connectNode have it; nodes added with addNode
 * (LXD only) answer NODE_UNAVAILABLE here. One connection per node is kept open while commands
 * come (each command is a channel of it), so a firewall refresh costs a round trip, not a
 * handshake; it closes after IDLE_MS unused, and a broken one is replaced once per command.
 */
export class NodeShell {
  private readonly open = new Map<string, OpenSession>();
  private closed = false;

  constructor(
    private readonly db: DataSource,
    private readonly setups: NodeSetupService,
    private readonly timeoutMs = 15_000,
  ) {}

  /** Whether Corral can reach the node over SSH with its own key. */
  async available(nodeId: string): Promise<boolean> {
    const setup = await this.db.manager.findOneBy(NodeSetup, { nodeId });
    return Boolean(setup?.corralKeyInstalled && setup.hostKeyFingerprint);
  }

  /** Runs one command line; the exit code is the caller's to judge. */
  async run(nodeId: string, command: string): Promise<ExecResult> {
    const setup = await this.db.manager.findOneBy(NodeSetup, { nodeId });
    if (!setup?.corralKeyInstalled || !setup.hostKeyFingerprint) {
      const node = await this.db.manager.findOneBy(Node, { id: nodeId });
      throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `node ${node?.name ?? nodeId} was not connected over SSH (connectNode): Corral cannot manage its firewall and routing`);
    }
    for (let attempt = 1; ; attempt++) {
      const reused = this.open.get(nodeId)?.target === targetKey(setup);
      const session = this.sessionFor(nodeId, setup);
      try {
        return await (await session).exec(command);
      } catch (error) {
        this.drop(nodeId, session);
        // A kept connection the node has dropped meanwhile (sshd restarted, node rebooted): once more on a new one.
        if (!reused || attempt > 1 || !(error instanceof CorralError && error.code === ErrorCode.NODE_UNREACHABLE)) throw error;
      } finally {
        this.release(nodeId, session);
      }
    }
  }

  /** Runs one command line and answers its stdout; a non-zero exit is NODE_UNAVAILABLE naming `what`. */
  async check(nodeId: string, command: string, what: string): Promise<string> {
    const result = await this.run(nodeId, command);
    if (result.code !== 0) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `${what} failed on the node (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(0, 2_000)}`);
    return result.stdout;
  }

  /** Closes every kept connection (at shutdown). */
  close(): void {
    this.closed = true;
    for (const nodeId of [...this.open.keys()]) this.drop(nodeId);
  }

  private sessionFor(nodeId: string, setup: NodeSetup): Promise<SshSession> {
    const target = targetKey(setup);
    const kept = this.open.get(nodeId);
    if (kept && kept.target === target) {
      if (kept.idle) clearTimeout(kept.idle);
      kept.idle = null;
      kept.users++;
      return kept.session;
    }
    if (kept) this.drop(nodeId);
    const session = this.setups.identity().then((identity) =>
      this.setups.transport.open({ host: setup.host, port: setup.port, user: setup.user, hostKey: setup.hostKeyFingerprint, privateKey: identity.privateKey, timeoutMs: this.timeoutMs }),
    );
    if (!this.closed) this.open.set(nodeId, { target, session, users: 1, idle: null });
    session.catch(() => this.drop(nodeId, session));
    return session;
  }

  /** After a command: the connection stays for IDLE_MS (a command in between keeps it longer). */
  private release(nodeId: string, session: Promise<SshSession>): void {
    const kept = this.open.get(nodeId);
    if (!kept || kept.session !== session) {
      if (this.closed || !kept) void session.then((s) => s.close(), () => undefined);
      return;
    }
    kept.users--;
    if (kept.users > 0) return;
    kept.idle = setTimeout(() => this.drop(nodeId, session), IDLE_MS);
    kept.idle.unref();
  }

  private drop(nodeId: string, only?: Promise<SshSession>): void {
    const kept = this.open.get(nodeId);
    if (!kept || (only && kept.session !== only)) return;
    this.open.delete(nodeId);
    if (kept.idle) clearTimeout(kept.idle);
    void kept.session.then((s) => s.close(), () => undefined);
  }
}

const targetKey = (setup: NodeSetup) => `${setup.user}@${setup.host}:${setup.port} ${setup.hostKeyFingerprint}`;
