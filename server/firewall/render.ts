import { createHash } from 'node:crypto';
import net from 'node:net';

/** The nftables table Corral owns on each node; LXD's own is `table inet lxd`, which Corral never touches. */
export const FIREWALL_TABLE = 'inet corral';

export type PortProtocolName = 'TCP' | 'UDP';

/** Ports `from`–`to` (inclusive) of one protocol. */
export interface PortRange {
  protocol: PortProtocolName;
  from: number;
  to: number;
}

/** What the renderer needs to know of one container on the node. */
export interface FirewallContainer {
  id: string;
  /** The host side of its routed NIC (`routedHostName`). */
  hostInterface: string;
  addresses: { address: string; family: number }[];
  /** New inbound TCP connections beyond this many at once are reset; null: no limit. */
  tcpConnectionLimit: number | null;
  /** Only these ports are open to new inbound TCP/UDP; null: all open. */
  inboundPorts: PortRange[] | null;
}

export interface RenderedFirewall {
  /** One `nft -f` batch that replaces the whole table atomically. */
  script: string;
  /** Identifies the ruleset; it is also the table's comment, so a node can be asked what it runs. */
  hash: string;
}

const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/**
 * Renders Corral's table for one node. Pure and deterministic (containers, addresses and ports
 * sorted), so equal input gives byte-equal output and an unchanged node can be skipped.
 *
 * - Anti-spoofing: in prerouting at priority raw − 1, i.e. before conntrack (−200), so a spoofed
 *   packet never creates a connection entry (nor counts against anyone's `ct count`), and before
 *   LXD's own rpfilter (raw, −300), so that Corral's counters see every spoofed packet. Prerouting
 *   covers both traffic to the node itself and traffic forwarded to other containers or out.
 * - Inbound rules (ports, then the TCP connection limit) in forward (from other containers and
 *   the uplink) and output (from the node itself), only on a connection's first packet:
 *   established and related traffic always passes. Closed ports are checked before the count,
 *   so refused attempts never take a slot.
 */
export function renderNodeFirewall(containers: readonly FirewallContainer[]): RenderedFirewall {
  const sorted = containers
    .map((c) => ({ ...c, addresses: checkedAddresses(c) }))
    .filter((c) => c.addresses.length > 0)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const body: string[] = [];
  const antispoof: string[] = [];
  const dispatch: string[] = [];
  const perContainer: string[] = [];

  for (const c of sorted) {
    if (!INTERFACE_NAME.test(c.hostInterface)) throw new Error(`not an interface name: ${JSON.stringify(c.hostInterface)}`);
    const key = `c_${c.id.replace(/-/g, '').toLowerCase()}`;
    if (!/^c_[0-9a-f]{32}$/.test(key)) throw new Error(`not a container id: ${JSON.stringify(c.id)}`);
    const v4 = c.addresses.filter((a) => a.family === 4).map((a) => a.address);
    const v6 = c.addresses.filter((a) => a.family === 6).map((a) => a.address);
    const iif = `iifname "${c.hostInterface}"`;
    if (v4.length) body.push(`\tset ${key}_v4 {\n\t\ttype ipv4_addr\n\t\telements = { ${v4.join(', ')} }\n\t}`);
    if (v6.length) body.push(`\tset ${key}_v6 {\n\t\ttype ipv6_addr\n\t\telements = { ${v6.join(', ')} }\n\t}`);

    // A family without addresses may not send at all (IPv6 link-local and the unspecified
    // address stay allowed: neighbour discovery and DAD need them; ARP is not IP).
    antispoof.push(v4.length ? `\t\t${iif} ip saddr != @${key}_v4 counter drop` : `\t\t${iif} meta nfproto ipv4 counter drop`);
    antispoof.push(`\t\t${iif} ip6 saddr != { ::, fe80::/10 }${v6.length ? ` ip6 saddr != @${key}_v6` : ''} counter drop`);

    const rules = inboundRules(c);
    if (rules.length) {
      if (v4.length) dispatch.push(`\t\tip daddr @${key}_v4 jump ${key}`);
      if (v6.length) dispatch.push(`\t\tip6 daddr @${key}_v6 jump ${key}`);
      perContainer.push(`\tchain ${key} {\n${rules.map((r) => `\t\t${r}`).join('\n')}\n\t}`);
    }
  }

  if (antispoof.length) body.push(`\tchain antispoof {\n\t\ttype filter hook prerouting priority raw - 1; policy accept;\n${antispoof.join('\n')}\n\t}`);
  if (dispatch.length) {
    body.push(`\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tct state new jump inbound\n\t}`);
    body.push(`\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n\t\tct state new jump inbound\n\t}`);
    body.push(`\tchain inbound {\n${dispatch.join('\n')}\n\t}`);
    body.push(...perContainer);
  }

  const hash = createHash('sha256').update(body.join('\n')).digest('hex').slice(0, 32);
  const table = [`\tcomment "corral:${hash}"`, ...body].join('\n');
  // `table … {}` first, so that the delete finds a table even on a fresh node; the whole file is one transaction.
  const script = `table ${FIREWALL_TABLE} {}\ndelete table ${FIREWALL_TABLE}\ntable ${FIREWALL_TABLE} {\n${table}\n}\n`;
  return { script, hash };
}

/** The rules a new inbound connection to the container meets, in order; empty when it has no settings. */
function inboundRules(c: FirewallContainer): string[] {
  const rules: string[] = [];
  if (c.inboundPorts) {
    const tcp = mergedRanges(c.inboundPorts, 'TCP');
    const udp = mergedRanges(c.inboundPorts, 'UDP');
    rules.push(tcp.length ? `tcp dport != { ${tcp.join(', ')} } counter reject with tcp reset` : 'meta l4proto tcp counter reject with tcp reset');
    // A closed UDP port answers ICMP port unreachable, as a port without a listener would.
    rules.push(udp.length ? `udp dport != { ${udp.join(', ')} } counter reject` : 'meta l4proto udp counter reject');
  }
  if (c.tcpConnectionLimit !== null) {
    if (!Number.isInteger(c.tcpConnectionLimit) || c.tcpConnectionLimit < 1) throw new Error(`not a connection limit: ${c.tcpConnectionLimit}`);
    // One rule per container: all its addresses (both families) share one connection list.
    rules.push(`meta l4proto tcp ct count over ${c.tcpConnectionLimit} counter reject with tcp reset`);
  }
  return rules;
}

/** Sorted, with overlapping and adjacent ranges merged (nft refuses overlapping set intervals). */
function mergedRanges(ports: PortRange[], protocol: PortProtocolName): string[] {
  const ranges = ports
    .filter((p) => p.protocol === protocol)
    .map((p) => {
      if (!Number.isInteger(p.from) || !Number.isInteger(p.to) || p.from < 1 || p.to > 65535 || p.from > p.to) throw new Error(`not a port range: ${p.from}-${p.to}`);
      return [p.from, p.to] as [number, number];
    })
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const [from, to] of ranges) {
    const last = merged[merged.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  return merged.map(([from, to]) => (from === to ? String(from) : `${from}-${to}`));
}

/** Canonical, sorted, de-duplicated addresses; anything that is not an address is a bug upstream. */
function checkedAddresses(c: FirewallContainer): { address: string; family: number }[] {
  const seen = new Map<string, { address: string; family: number }>();
  for (const { address, family } of c.addresses) {
    if (net.isIP(address) !== family) throw new Error(`not an IPv${family} address: ${JSON.stringify(address)}`);
    seen.set(address, { address, family });
  }
  return [...seen.values()].sort((a, b) => a.family - b.family || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}
