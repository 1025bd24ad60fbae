import { CorralError, ErrorCode } from '../app/errors';
import { execInstance, isCommandNotFound } from '../lxd/exec';
import { LxdGateway } from '../nodes/lxd-gateway';
import type { NodeGateway } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';

/** What setting a root password asks of a node. */
export interface RootPasswordNodes {
  /**
   * Makes `shadowHash` (SHA-512 crypt, `$6$…`) root's password in the running instance.
   * @throws CorralError IMAGE_UNSUPPORTED when the image has no `chpasswd`; CONTAINER_NOT_RUNNING
   * when the instance is not running; LxdError / LxdUnavailableError otherwise.
   */
  setRootPasswordHash(node: Node, project: string, name: string, shadowHash: string): Promise<void>;
}

const CHPASSWD_TIMEOUT_MS = 60_000;
const SHADOW_HASH = /^\$6\$[^\n:$]+\$[./0-9A-Za-z]+$/;

/**
 * Feeds `root:<hash>` to `chpasswd -e` on stdin through LXD's exec websockets. Only the hash
 * travels, and only on stdin: LXD publishes an exec's command line and environment on
 * `/1.0/events`, never its stdin.
 */
export class RootPasswordGateway implements RootPasswordNodes {
  constructor(private readonly lxd: Pick<LxdGateway, 'clientFor'>) {}

  async setRootPasswordHash(node: Node, project: string, name: string, shadowHash: string): Promise<void> {
    // A newline or colon would let the line name another user or a second line.
    if (!SHADOW_HASH.test(shadowHash)) throw new Error('not a SHA-512 crypt hash');
    const client = await this.lxd.clientFor(node);
    let result;
    try {
      result = await execInstance(client, project, name, { command: ['chpasswd', '-e'], stdin: `root:${shadowHash}\n`, environment: {}, timeoutMs: CHPASSWD_TIMEOUT_MS });
    } catch (error) {
      if (isCommandNotFound(error)) throw new CorralError(ErrorCode.IMAGE_UNSUPPORTED, "the container's image has no chpasswd, so its root password cannot be set");
      if (error instanceof Error && /not running/i.test(error.message)) throw new CorralError(ErrorCode.CONTAINER_NOT_RUNNING, 'the container is not running: start it first');
      throw error;
    }
    if (result.exitCode === 127 || result.exitCode === 126) throw new CorralError(ErrorCode.IMAGE_UNSUPPORTED, "the container's image has no usable chpasswd, so its root password cannot be set");
    if (result.exitCode !== 0) {
      throw new CorralError(ErrorCode.LXD_ERROR, `chpasswd failed in the container (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 300)}`);
    }
  }
}

/** Test doubles of the node gateway (test/support/fake-gateway.ts) may set passwords themselves. */
function setsPasswords(gateway: NodeGateway): gateway is NodeGateway & RootPasswordNodes {
  return typeof (gateway as Partial<RootPasswordNodes>).setRootPasswordHash === 'function';
}

/** The password side of a node gateway: over LXD exec for the real one, the double's own for a fake. */
export function rootPasswordNodesFor(gateway: NodeGateway): RootPasswordNodes {
  if (gateway instanceof LxdGateway) return new RootPasswordGateway(gateway);
  if (setsPasswords(gateway)) return gateway;
  return {
    setRootPasswordHash: () => Promise.reject(new CorralError(ErrorCode.NODE_UNAVAILABLE, 'this node gateway cannot set passwords')),
  };
}
