import { isIP } from 'node:net';

/** A node of the cluster's iBGP fabric: its address (the one Corral reaches it at over SSH). */
export interface FabricPeer {
  address: string;
}

/** bird's protocol name for a peer: `peer_` and the address with every non-alphanumeric character as `_`. */
export const peerProtocolName = (address: string) => `peer_${address.replace(/[^A-Za-z0-9]/g, '_')}`;

/**
 * The node's `corral-peers.conf`: one BGP session per other node of the cluster, from the
 * `corral_peer` template that the node playbook defines in bird.conf (local AS, timers, filters).
 * Sorted and de-duplicated, so that the same cluster always renders the same file. Peers whose
 * address is not an IP literal are left out: bird needs an address for `neighbor`.
 */
export function renderPeersFile(self: string, peers: readonly FabricPeer[], asn: number): string {
  if (!Number.isInteger(asn) || asn < 1 || asn > 4294967294) throw new Error(`not an AS number: ${asn}`);
  const addresses = [...new Set(peers.map((p) => p.address))].filter((a) => a !== self && isIP(a) !== 0).sort();
  const lines = addresses.map((a) => `protocol bgp ${peerProtocolName(a)} from corral_peer { neighbor ${a} as ${asn}; }`);
  return ['# Written by Corral: the other nodes of this node\'s cluster. Rewritten when the cluster\'s nodes change.', ...lines, ''].join('\n');
}
