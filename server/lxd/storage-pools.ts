import { z } from 'zod';
import { lxdPath, parseMetadata, type LxdClient } from './client';
import { isNotFound } from './errors';

const poolSchema = z.object({ name: z.string(), driver: z.string(), status: z.string().default('') });

/** A storage pool as LXD describes it, the parts Corral reads. */
export interface LxdStoragePool {
  name: string;
  /** `btrfs`, `dir`, `zfs`, `lvm`, … */
  driver: string;
  status: string;
}

/**
 * `GET /1.0/storage-pools/{name}`. Synchronous.
 * @returns the pool, or null when the node has none of that name.
 * @throws LxdError, LxdUnavailableError
 */
export async function getStoragePool(client: LxdClient, name: string): Promise<LxdStoragePool | null> {
  try {
    const { metadata } = await client.sync('GET', lxdPath`/1.0/storage-pools/${name}`);
    const pool = parseMetadata(poolSchema, metadata, 'GET /1.0/storage-pools/{name}');
    return { name: pool.name, driver: pool.driver, status: pool.status };
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}
