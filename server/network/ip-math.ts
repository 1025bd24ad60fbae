import ipaddr from 'ipaddr.js';

/**
 * Address math for IP pools, on ipaddr.js (parsing, canonical text) and BigInt (arithmetic), so
 * that a /48 or a /64 is never enumerated: a range is two numbers.
 */
export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  prefix: number;
  /** The network address and the last address of the block. */
  first: bigint;
  last: bigint;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

/** A single address in its canonical text (dotted quad, or RFC 5952 for IPv6); null when not one. */
export function parseAddress(text: string): { family: Family; value: bigint } | null {
  const s = text.trim();
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return { family: 4, value: toBigInt(ipaddr.IPv4.parse(s).toByteArray()) };
  if (!s.includes('%') && ipaddr.IPv6.isValid(s) && s.includes(':')) return { family: 6, value: toBigInt(ipaddr.IPv6.parse(s).toByteArray()) };
  return null;
}

/** `198.51.100.0/24` or `2001:db8::/48`; the address must be the network address itself. */
export function parseCidr(text: string): Cidr | { error: string } {
  const [addressText, prefixText, ...rest] = text.trim().split('/');
  if (rest.length || prefixText === undefined || !/^\d{1,3}$/.test(prefixText)) return { error: `"${text}" is not a CIDR block such as 198.51.100.0/24 or 2001:db8::/48` };
  const address = parseAddress(addressText!);
  if (!address) return { error: `"${text}" is not a CIDR block such as 198.51.100.0/24 or 2001:db8::/48` };
  const prefix = Number(prefixText);
  const bits = BITS[address.family];
  if (prefix > bits) return { error: `"${text}": the prefix length must be at most ${bits}` };
  const hostBits = BigInt(bits - prefix);
  const first = (address.value >> hostBits) << hostBits;
  if (first !== address.value) return { error: `"${text}" has host bits set; the block starts at ${formatAddress(address.family, first)}/${prefix}` };
  return { family: address.family, prefix, first, last: first + (1n << hostBits) - 1n };
}

export function formatAddress(family: Family, value: bigint): string {
  const bytes: number[] = [];
  for (let i = BITS[family] / 8 - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

export const formatCidr = (cidr: Cidr) => `${formatAddress(cidr.family, cidr.first)}/${cidr.prefix}`;

/**
 * A fixed-width, family-tagged hex key (`4:c6336400`, `6:20010db8…`): ordered as text exactly as
 * the addresses are as numbers, so that SQL can sort and compare addresses on both databases.
 */
export function sortKeyOf(family: Family, value: bigint): string {
  return `${family}:${value.toString(16).padStart(BITS[family] / 4, '0')}`;
}

export function valueOfSortKey(key: string): bigint {
  return BigInt(`0x${key.slice(2)}`);
}

function toBigInt(bytes: number[]): bigint {
  return bytes.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
}

/**
 * The default usable range of a block: IPv4 leaves out the network and broadcast addresses
 * (except for /31 and /32, RFC 3021); IPv6 leaves out the subnet-router anycast address (the
 * first) except for /127 and /128.
 */
export function defaultRange(cidr: Cidr): { first: bigint; last: bigint } {
  const size = cidr.last - cidr.first + 1n;
  if (size <= 2n) return { first: cidr.first, last: cidr.last };
  return cidr.family === 4 ? { first: cidr.first + 1n, last: cidr.last - 1n } : { first: cidr.first + 1n, last: cidr.last };
}
