import { CorralError, ErrorCode } from '../app/errors';
import { openInteractiveExec, type InteractiveExec } from '../lxd/exec';
import { LxdGateway } from '../nodes/lxd-gateway';
import type { NodeGateway } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';

/** A terminal session in a container, as the console bridge sees it (an interactive exec on the real gateway). */
export type ConsoleStream = InteractiveExec;

/** What opening a console asks of a node. */
export interface ConsoleNodes {
  /**
   * Starts the container's login shell on a pty of `cols`×`rows`.
   * @throws CorralError CONTAINER_NOT_RUNNING when the instance is not running; LxdError /
   * LxdUnavailableError otherwise.
   */
  openConsole(node: Node, project: string, name: string, size: { cols: number; rows: number }): Promise<ConsoleStream>;
}

/**
 * The shell a console runs: root's login shell from /etc/passwd when it is executable, else bash,
 * else sh; always as a login shell (`-l`, so /etc/profile is read). Not a secret: LXD publishes
 * an exec's command line on `/1.0/events`.
 */
export const CONSOLE_COMMAND = [
  '/bin/sh',
  '-c',
  'shell=$(sed -n "s/^root:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*://p" /etc/passwd 2>/dev/null | head -n 1); ' +
    'for s in "$shell" /bin/bash /bin/sh; do if [ -n "$s" ] && [ -x "$s" ]; then exec "$s" -l; fi; done; exec /bin/sh -l',
];
export const CONSOLE_ENVIRONMENT = { TERM: 'xterm-256color', HOME: '/root', USER: 'root', LANG: 'C.UTF-8' };
const START_TIMEOUT_MS = 20_000;

/** Opens consoles through LXD's interactive exec. */
export class ConsoleGateway implements ConsoleNodes {
  constructor(private readonly lxd: Pick<LxdGateway, 'clientFor'>) {}

  async openConsole(node: Node, project: string, name: string, size: { cols: number; rows: number }): Promise<ConsoleStream> {
    const client = await this.lxd.clientFor(node);
    try {
      return await openInteractiveExec(client, project, name, { command: CONSOLE_COMMAND, environment: CONSOLE_ENVIRONMENT, width: size.cols, height: size.rows, timeoutMs: START_TIMEOUT_MS });
    } catch (error) {
      if (error instanceof Error && /not running/i.test(error.message)) throw new CorralError(ErrorCode.CONTAINER_NOT_RUNNING, 'the container is not running: start it first');
      throw error;
    }
  }
}

/** Test doubles of the node gateway may open consoles themselves. */
function opensConsoles(gateway: NodeGateway): gateway is NodeGateway & ConsoleNodes {
  return typeof (gateway as Partial<ConsoleNodes>).openConsole === 'function';
}

/** The console side of a node gateway: LXD interactive exec for the real one, the double's own for a fake. */
export function consoleNodesFor(gateway: NodeGateway): ConsoleNodes {
  if (gateway instanceof LxdGateway) return new ConsoleGateway(gateway);
  if (opensConsoles(gateway)) return gateway;
  return { openConsole: () => Promise.reject(new CorralError(ErrorCode.NODE_UNAVAILABLE, 'this node gateway cannot open consoles')) };
}
