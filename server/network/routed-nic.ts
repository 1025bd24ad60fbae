import type { EntityManager } from 'typeorm';
import { IpAddress } from './ip-pool.entity';

/** The container's primary interface: the routed NIC that carries its public addresses. */
export const ROUTED_NIC = 'eth0';

/**
 * The kernel routing table LXD also puts each address's host route in (besides main), which
 * bird2 on the node learns and announces over iBGP (LXD-NOTES §B).
 */
export const HOST_TABLE = '100';

/**
 * The host-side name of a container's routed NIC: `cr` and the LAST 13 hex digits of the
 * container's ID (15 characters, the kernel's IFNAMSIZ limit). Fixed, unlike LXD's random
 * `vethXXXX`, so that the node's nftables rules (anti-spoofing, port rules, connection limit)
 * can name the interface before the container starts and keep naming it after LXD replaces it.
 * The last digits, not the first: IDs are UUIDv7, whose first 13 hex digits are the creation
 * millisecond and the version nibble, so two containers created in the same millisecond would
 * share a name; the last 13 are random (52 bits).
 */
export function routedHostName(containerId: string): string {
  return `cr${containerId.replaceAll('-', '').slice(-13)}`;
}

/**
 * The LXD config key Corral sets at create so that cloud-init never configures the network:
 * liblxc puts the routed NIC's addresses and routes on eth0 at every start, and an image with
 * cloud-init would otherwise render DHCP on eth0 (its fallback) and may drop them. Set once, at
 * create, and never changed: changing any `cloud-init.*` key resets
 * `volatile.cloud-init.instance-id`, which re-runs cloud-init's per-instance modules at the next
 * boot (see docs/decisions: "Addresses survive a restart through liblxc, not cloud-init").
 */
export const NETWORK_CONFIG_KEY = 'cloud-init.network-config';
export const NETWORK_CONFIG_DISABLED = 'config: disabled\n';

/** `eth0` as LXD's routed NIC with exactly these addresses (canonical text), or null for none: no addresses, no eth0. */
export function routedNicDevice(containerId: string, addresses: { family: number; address: string }[]): Record<string, string> | null {
  const v4 = addresses.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = addresses.filter((a) => a.family === 6).map((a) => a.address);
  if (v4.length + v6.length === 0) return null;
  return {
    type: 'nic',
    nictype: 'routed',
    name: ROUTED_NIC,
    host_name: routedHostName(containerId),
    ...(v4.length ? { 'ipv4.address': v4.join(','), 'ipv4.host_table': HOST_TABLE } : {}),
    ...(v6.length ? { 'ipv6.address': v6.join(','), 'ipv6.host_table': HOST_TABLE } : {}),
  };
}

/** The addresses of a container, IPv4 first, each family in address order. */
export function addressesOf(em: EntityManager, containerId: string): Promise<IpAddress[]> {
  return em.find(IpAddress, { where: { containerId }, order: { family: 'ASC', sortKey: 'ASC' } });
}

/**
 * What a new container gets for its network at create: the cloud-init key that leaves eth0 to
 * liblxc (always: cloud-init's LXD datasource renders DHCP on eth0 at first boot even when the
 * container has no eth0 yet — verified in the lab — so a container given addresses later needs
 * it too), and eth0 with the addresses allocated in the create transaction (none: no eth0).
 */
export async function routedNetworkAtCreate(em: EntityManager, containerId: string): Promise<{ config: Record<string, string>; devices: Record<string, Record<string, string>> }> {
  const device = routedNicDevice(containerId, await addressesOf(em, containerId));
  return { config: { [NETWORK_CONFIG_KEY]: NETWORK_CONFIG_DISABLED }, devices: device ? { [ROUTED_NIC]: device } : {} };
}
