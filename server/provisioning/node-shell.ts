import type { DataSource } from 'typeorm';
import { CorralError, ErrorCode } from '../app/errors';
import { Node } from '../nodes/node.entity';
import { NodeSetup } from './node-setup.entity';
import type { NodeSetupService } from './node-setup.service';
import type { ExecResult } from './ssh-transport';

/**
 * A shell here-document carrying `text` to the command's stdin: the SSH transport runs one
 * command line, and Corral's inputs to node tools (nft rulesets, bird configs) are files.
 */
export function withStdin(command: string, text: string): string {
  let delimiter = 'CORRAL_EOF';
  while (text.split('\n').includes(delimiter)) delimiter += '_';
  return `${command} <<'${delimiter}'\n${text}${text.endsWith('\n') ? '' : '\n'}${delimiter}`;
}

/**
 * Commands on a node over SSH with Corral's own key: the way Corral manages what LXD does not
 * (nftables, bird). Only nodes connected with connectNode have it; nodes added with addNode
 * (LXD only) answer NODE_UNAVAILABLE here.
 */
export class NodeShell {
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
    const identity = await this.setups.identity();
    const session = await this.setups.transport.open({
      host: setup.host,
      port: setup.port,
      user: setup.user,
      hostKey: setup.hostKeyFingerprint,
      privateKey: identity.privateKey,
      timeoutMs: this.timeoutMs,
    });
    try {
      return await session.exec(command);
    } finally {
      session.close();
    }
  }

  /** Runs one command line and answers its stdout; a non-zero exit is NODE_UNAVAILABLE naming `what`. */
  async check(nodeId: string, command: string, what: string): Promise<string> {
    const result = await this.run(nodeId, command);
    if (result.code !== 0) throw new CorralError(ErrorCode.NODE_UNAVAILABLE, `${what} failed on the node (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(0, 2_000)}`);
    return result.stdout;
  }
}
