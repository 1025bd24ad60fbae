import { randomInt } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { Actor } from '../app/actor';
import { badInput, conflict, CorralError, ErrorCode, notFound } from '../app/errors';
import type { AuditService } from '../audit/audit.service';
import { Cluster } from '../clusters/cluster.entity';
import { insertUnique, isUniqueViolation } from '../common/db-errors';
import { isId, newId } from '../common/ids';
import { Container } from '../containers/container.entity';
import { Node } from '../nodes/node.entity';
import { defaultRange, formatAddress, formatCidr, parseAddress, parseCidr, sortKeyOf, valueOfSortKey, type Cidr, type Family } from './ip-math';
import { IpAddress, IpPool } from './ip-pool.entity';
import type { CreateIpPoolInput } from './ip-pools.inputs';

/** How many times an allocation that lost a race (unique-key violation) picks again. */
const MAX_ATTEMPTS = 100;
/** After a lost race, pick at random among this many of the lowest free addresses, to spread contenders. */
const SPREAD = 16;
/** Allocated rows are read in pages of this size, in address order. */
const PAGE = 1000;

/** True for a foreign-key violation on SQLite or PostgreSQL (the container or pool went meanwhile). */
function isForeignKeyViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  const code = e?.driverError?.code ?? e?.code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/**
 * IP pools per cluster and IPAM. Pools are the provider's (INFRASTRUCTURE_* callers only).
 * Allocation picks the lowest free address of the pool by walking the allocated rows in address
 * order (never the pool itself, which may be a /64), inserts it, and lets the unique index on
 * `ip_addresses.address` decide races: the loser picks again.
 */
export class IpamService {
  constructor(
    private readonly db: DataSource,
    private readonly audit: AuditService,
  ) {}

  async get(_actor: Actor, id: string): Promise<IpPool> {
    const pool = isId(id) ? await this.db.manager.findOneBy(IpPool, { id }) : null;
    if (!pool) throw notFound('IP pool');
    return pool;
  }

  async list(_actor: Actor, clusterId: string): Promise<IpPool[]> {
    const cluster = isId(clusterId) ? await this.db.manager.findOneBy(Cluster, { id: clusterId }) : null;
    if (!cluster) throw notFound('Cluster');
    return this.db.manager.find(IpPool, { where: { clusterId }, order: { name: 'ASC' } });
  }

  /** How many addresses the pool can hand out (first to last, less the gateway and reserved ones inside), as a decimal string: an IPv6 pool exceeds any integer type. */
  size(pool: IpPool): string {
    const first = valueOfSortKey(pool.firstKey);
    const last = valueOfSortKey(pool.lastKey);
    const excluded = this.excludedOf(pool).filter((v) => v >= first && v <= last).length;
    return String(last - first + 1n - BigInt(excluded));
  }

  allocatedCount(poolId: string): Promise<number> {
    return this.db.manager.countBy(IpAddress, { poolId });
  }

  addressesOf(containerId: string): Promise<IpAddress[]> {
    return this.db.manager.find(IpAddress, { where: { containerId }, order: { family: 'ASC', sortKey: 'ASC' } });
  }

  create(actor: Actor, input: CreateIpPoolInput): Promise<IpPool> {
    return this.audit.within({ actor, request: actor.request }, 'ipPool.create', async (em, draft) => {
      const cluster = isId(input.clusterId) ? await em.findOneBy(Cluster, { id: input.clusterId }) : null;
      if (!cluster) throw notFound('Cluster');
      const cidr = parseCidr(input.cidr);
      if ('error' in cidr) throw badInput(cidr.error, 'cidr');
      const inBlock = (text: string, field: string) => {
        const a = parseAddress(text);
        if (!a) throw badInput(`${field}: "${text}" is not an IP address`, field);
        if (a.family !== cidr.family || a.value < cidr.first || a.value > cidr.last) throw badInput(`${field}: ${text} is outside ${formatCidr(cidr)}`, field);
        return a.value;
      };
      const range = defaultRange(cidr);
      const first = input.firstAddress ? inBlock(input.firstAddress, 'firstAddress') : range.first;
      const last = input.lastAddress ? inBlock(input.lastAddress, 'lastAddress') : range.last;
      if (first > last) throw badInput(`firstAddress ${formatAddress(cidr.family, first)} comes after lastAddress ${formatAddress(cidr.family, last)}`, 'firstAddress');
      const gateway = input.gateway ? inBlock(input.gateway, 'gateway') : null;
      const reserved = [...new Set((input.reserved ?? []).map((r) => inBlock(r, 'reserved')))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      // Pools never overlap, in any cluster: the addresses are routed on one fabric. On PostgreSQL
      // concurrent creations take turns on an advisory lock; SQLite has one writer anyway.
      if (em.connection.options.type === 'postgres') await em.query(`SELECT pg_advisory_xact_lock(hashtext('corral.ip_pools'))`);
      for (const other of await em.find(IpPool, { where: { family: cidr.family } })) {
        const block = parseCidr(other.cidr) as Cidr;
        if (block.first <= cidr.last && cidr.first <= block.last) {
          const owner = await em.findOneBy(Cluster, { id: other.clusterId });
          throw badInput(`${formatCidr(cidr)} overlaps pool "${other.name}" (${other.cidr}) of cluster "${owner?.name ?? other.clusterId}"`, 'cidr');
        }
      }
      const pool = em.create(IpPool, {
        id: newId(),
        clusterId: cluster.id,
        name: input.name,
        family: cidr.family,
        cidr: formatCidr(cidr),
        firstAddress: formatAddress(cidr.family, first),
        lastAddress: formatAddress(cidr.family, last),
        firstKey: sortKeyOf(cidr.family, first),
        lastKey: sortKeyOf(cidr.family, last),
        gateway: gateway === null ? null : formatAddress(cidr.family, gateway),
        reserved: reserved.map((r) => formatAddress(cidr.family, r)),
      });
      await insertUnique(em, IpPool, pool, 'name', `cluster "${cluster.name}" already has a pool named "${input.name}"`);
      draft.target('ipPool', pool.id);
      return pool;
    });
  }

  /** Refused with CONFLICT while any address of the pool is allocated. */
  remove(actor: Actor, id: string): Promise<IpPool> {
    return this.audit.within({ actor, request: actor.request }, 'ipPool.delete', async (em, draft) => {
      const pool = isId(id) ? await em.findOneBy(IpPool, { id }) : null;
      if (!pool) throw notFound('IP pool');
      draft.target('ipPool', pool.id);
      const allocated = await em.countBy(IpAddress, { poolId: pool.id });
      if (allocated > 0) throw conflict(`pool "${pool.name}" still has ${allocated} address${allocated === 1 ? '' : 'es'} allocated`, 'id');
      try {
        await em.transaction((inner) => inner.delete(IpPool, { id: pool.id }));
      } catch (error) {
        // An allocation committed between the count and the delete: the foreign key refuses.
        if (isForeignKeyViolation(error)) throw conflict(`pool "${pool.name}" has addresses allocated`, 'id');
        throw error;
      }
      return pool;
    });
  }

  /**
   * Hands the lowest free address of the pool to the container and records it; for the
   * services (adding an address to a container), not a GraphQL mutation. Runs in `em`'s
   * transaction when given one (each attempt in a savepoint). BAD_USER_INPUT for a pool of
   * another cluster than the container's, POOL_EXHAUSTED when nothing is free.
   */
  async allocateAddress(poolId: string, containerId: string, em: EntityManager = this.db.manager): Promise<IpAddress> {
    const pool = isId(poolId) ? await em.findOneBy(IpPool, { id: poolId }) : null;
    if (!pool) throw notFound('IP pool');
    const container = isId(containerId) ? await em.findOneBy(Container, { id: containerId }) : null;
    if (!container) throw notFound('Container');
    const node = await em.findOneBy(Node, { id: container.nodeId });
    if (node?.clusterId !== pool.clusterId) throw badInput(`pool "${pool.name}" belongs to another cluster than the container's`, 'poolId');
    const family = pool.family as Family;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const free = await this.lowestFree(em, pool, attempt === 0 ? 1 : SPREAD);
      if (free.length === 0) throw new CorralError(ErrorCode.POOL_EXHAUSTED, `pool "${pool.name}" (${pool.cidr}) has no free address`, { poolId: pool.id });
      const value = free[attempt === 0 ? 0 : randomInt(free.length)]!;
      const row = em.create(IpAddress, { id: newId(), poolId: pool.id, containerId, address: formatAddress(family, value), family, sortKey: sortKeyOf(family, value) });
      try {
        await em.transaction((inner) => inner.insert(IpAddress, row));
        return row;
      } catch (error) {
        if (isUniqueViolation(error)) {
          // Another allocation took it first: pick again, after a short random pause.
          await new Promise((resolve) => setTimeout(resolve, randomInt(1 + Math.min(attempt, 20) * 2)));
          continue;
        }
        if (isForeignKeyViolation(error)) {
          const poolGone = !(await em.findOneBy(IpPool, { id: pool.id }));
          throw notFound(poolGone ? 'IP pool' : 'Container');
        }
        throw error;
      }
    }
    throw conflict(`pool "${pool.name}": no address could be allocated after ${MAX_ATTEMPTS} attempts (too many concurrent allocations)`, 'poolId');
  }

  /** Releases one address of the container (the others stay); true when it had it. Released addresses can be handed out again at once. */
  async releaseAddress(containerId: string, address: string, em: EntityManager = this.db.manager): Promise<boolean> {
    const parsed = parseAddress(address);
    if (!parsed) return false;
    const result = await em.delete(IpAddress, { containerId, address: formatAddress(parsed.family, parsed.value) });
    return (result.affected ?? 0) > 0;
  }

  /** The gateway and the reserved addresses, as numbers. */
  private excludedOf(pool: IpPool): bigint[] {
    return [...(pool.gateway ? [pool.gateway] : []), ...pool.reserved].map((a) => parseAddress(a)!.value);
  }

  /** Up to `count` of the lowest free addresses, merging the allocated rows (in address order, paged) with the excluded ones. */
  private async lowestFree(em: EntityManager, pool: IpPool, count: number): Promise<bigint[]> {
    const last = valueOfSortKey(pool.lastKey);
    const excluded = [...new Set(this.excludedOf(pool))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const found: bigint[] = [];
    let candidate = valueOfSortKey(pool.firstKey);
    const take = (taken: bigint) => {
      if (taken < candidate) return;
      while (candidate < taken && candidate <= last && found.length < count) found.push(candidate++);
      if (candidate === taken) candidate++;
    };
    let cursor = '';
    let e = 0;
    while (found.length < count && candidate <= last) {
      const rows: { sortKey: string }[] = await em
        .createQueryBuilder(IpAddress, 'a')
        .select('a.sortKey', 'sortKey')
        .where('a.poolId = :poolId AND a.sortKey > :cursor', { poolId: pool.id, cursor })
        .orderBy('a.sortKey', 'ASC')
        .limit(PAGE)
        .getRawMany();
      for (const row of rows) {
        const value = valueOfSortKey(row.sortKey);
        while (e < excluded.length && excluded[e]! < value) take(excluded[e++]!);
        take(value);
        if (found.length >= count || candidate > last) break;
      }
      if (rows.length < PAGE) break;
      cursor = rows[rows.length - 1]!.sortKey;
    }
    while (e < excluded.length && found.length < count && candidate <= last) take(excluded[e++]!);
    while (found.length < count && candidate <= last) found.push(candidate++);
    return found;
  }
}
