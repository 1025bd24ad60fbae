import { CorralError, ErrorCode } from '../app/errors';
import { LxdNicsGateway } from '../containers/nics.gateway';
import { lxdPath } from '../lxd/client';
import { LxdError } from '../lxd/errors';
import { execInstance, isCommandNotFound } from '../lxd/exec';
import { getInstance, getInstanceState } from '../lxd/instances';
import { LxdGateway } from '../nodes/lxd-gateway';
import type { NodeGateway } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';
import { ROUTED_NIC } from './routed-nic';

/** What became of the addresses inside the container after the device change. */
export type LiveResult = 'configured' | 'stopped' | 'no-ip-command';

/** The node-side work of a container's public addresses. Bounded in time and safe to repeat. */
export interface AddressNodes {
  /**
   * Makes the instance's own `eth0` exactly `device` (null: no eth0) and, when the instance runs,
   * configures `addresses` on it inside (LXD replaces the device on any address change and does
   * not configure a running container: LXD-NOTES §10). Returns what happened inside.
   * @throws LxdError / LxdUnavailableError; CorralError LXD_ERROR when the configuration inside failed.
   */
  applyRoutedNic(node: Node, project: string, name: string, device: Record<string, string> | null, addresses: { family: number; address: string }[]): Promise<LiveResult>;
}

const EXEC_TIMEOUT_MS = 30_000;
const CONFIGURE_ATTEMPTS = 4;

/**
 * The commands that bring eth0 up inside a running container as liblxc does at start: each
 * address as /32 or /128, `169.254.0.1` on-link and the default routes via the host side
 * (169.254.0.1, fe80::1). The addresses are the arguments (`$@`), never spliced into the script.
 * Only commands that both BusyBox's `ip` and iproute2 know. `ip addr add` of an address already
 * there fails harmlessly (a repeated run); what counts is the `ip addr show` at the end.
 */
export function configureScript(hasV4: boolean, hasV6: boolean): string {
  return [
    'command -v ip >/dev/null || exit 127',
    `ip link set ${ROUTED_NIC} up || exit 3`,
    `for a in "$@"; do ip addr add "$a" dev ${ROUTED_NIC} 2>/dev/null; done`,
    ...(hasV4 ? [`ip route replace 169.254.0.1 dev ${ROUTED_NIC} scope link || exit 4`, `ip route replace default via 169.254.0.1 dev ${ROUTED_NIC} || exit 5`] : []),
    ...(hasV6 ? [`ip -f inet6 route replace default via fe80::1 dev ${ROUTED_NIC} || exit 6`] : []),
    `ip addr show dev ${ROUTED_NIC}`,
  ].join('\n');
}

/** The `address/prefix` arguments of configureScript. */
export const withPrefix = (a: { family: number; address: string }) => `${a.address}/${a.family === 4 ? 32 : 128}`;

/** Over the node's pinned LXD client: PATCH to set eth0, PUT with ETag to remove it, exec to configure inside. */
export class LxdAddressesGateway implements AddressNodes {
  private readonly nics: LxdNicsGateway;

  constructor(private readonly lxd: Pick<LxdGateway, 'clientFor'>) {
    this.nics = new LxdNicsGateway(lxd);
  }

  async applyRoutedNic(node: Node, project: string, name: string, device: Record<string, string> | null, addresses: { family: number; address: string }[]): Promise<LiveResult> {
    const client = await this.lxd.clientFor(node);
    const instance = await getInstance(client, project, name);
    if (!instance) throw new LxdError(`Instance not found: ${name}`, { status: 404 });
    const current = instance.devices[ROUTED_NIC] ?? null;
    if (device === null) {
      if (current) await this.nics.detach(node, project, name, ROUTED_NIC);
    } else if (!sameDevice(current, device)) {
      // PATCH replaces the whole device of that name (not key by key); LXD re-creates the veth.
      await client.sync('PATCH', lxdPath`/1.0/instances/${name}`, { project, body: { devices: { [ROUTED_NIC]: device } } });
    }
    const after = await getInstance(client, project, name);
    if (!sameDevice(after?.devices[ROUTED_NIC] ?? null, device)) throw new LxdError(`${ROUTED_NIC} on instance ${name} is not as set after the change`, { status: 500, lxdCode: 0 });

    if (device === null || (await getInstanceState(client, project, name))?.status !== 'Running') return 'stopped';
    const hasV4 = addresses.some((a) => a.family === 4);
    const hasV6 = addresses.some((a) => a.family === 6);
    // Right after LXD re-creates the device, the new eth0 may not be settled inside yet (seen once:
    // exit 0 with the address missing): configure again, a few times, before calling it failed.
    let missing: string[] = [];
    for (let attempt = 1; attempt <= CONFIGURE_ATTEMPTS; attempt++) {
      let result;
      try {
        result = await execInstance(client, project, name, { command: ['sh', '-c', configureScript(hasV4, hasV6), 'sh', ...addresses.map(withPrefix)], environment: {}, timeoutMs: EXEC_TIMEOUT_MS });
      } catch (error) {
        if (isCommandNotFound(error)) return 'no-ip-command';
        throw error;
      }
      if (result.exitCode === 127) return 'no-ip-command';
      const output = result.stdout;
      missing = result.exitCode === 0 ? addresses.map(withPrefix).filter((a) => !output.includes(` ${a} `)) : [];
      if (result.exitCode === 0 && missing.length === 0) break;
      if (attempt === CONFIGURE_ATTEMPTS && result.exitCode !== 0) throw new CorralError(ErrorCode.LXD_ERROR, `configuring ${ROUTED_NIC} inside the container failed (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 300)}`);
      if (attempt < CONFIGURE_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
    if (missing.length) throw new CorralError(ErrorCode.LXD_ERROR, `${missing.join(', ')} did not come up on ${ROUTED_NIC} inside the container`);
    return 'configured';
  }
}

function sameDevice(a: Record<string, string> | null, b: Record<string, string> | null): boolean {
  if (a === null || b === null) return a === b;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => a[k] === b[k]);
}

/** Test doubles of the node gateway (test/support/fake-gateway.ts) carry their own as `addresses`. */
export function addressNodesFor(gateway: NodeGateway): AddressNodes {
  if (gateway instanceof LxdGateway) return new LxdAddressesGateway(gateway);
  const carried = (gateway as { addresses?: AddressNodes }).addresses;
  if (carried) return carried;
  return {
    applyRoutedNic: async () => {
      throw new LxdError('this node gateway cannot change addresses', { status: 501, lxdCode: 0 });
    },
  };
}
