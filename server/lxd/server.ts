import { z } from 'zod';
import { lxdPath, parseMetadata as parse, type LxdClient } from './client';

const environmentSchema = z.object({
  certificate: z.string().default(''),
  certificate_fingerprint: z.string().default(''),
  addresses: z.array(z.string()).nullable().default([]),
  architectures: z.array(z.string()).nullable().default([]),
  firewall: z.string().default(''),
  kernel_version: z.string().default(''),
  os_name: z.string().default(''),
  os_version: z.string().default(''),
  server_name: z.string().default(''),
  server_version: z.string().default(''),
  server_clustered: z.boolean().default(false),
  storage: z.string().default(''),
  storage_supported_drivers: z.array(z.object({ Name: z.string(), Remote: z.boolean().optional(), Version: z.string().optional() })).nullable().default([]),
});

const serverSchema = z.object({
  api_extensions: z.array(z.string()).default([]),
  api_version: z.string(),
  auth: z.string(),
  // LXD shows secrets as `true` (e.g. "core.trust_password": true).
  config: z.record(z.string(), z.union([z.string(), z.boolean(), z.number()])).nullable().default({}),
  environment: environmentSchema.optional(),
});

/** What `GET /1.0` says about a node. `environment` is only given to trusted clients. */
export interface LxdServerInfo {
  apiVersion: string;
  apiExtensions: string[];
  /** `trusted` once this client's certificate is in the node's trust store. */
  auth: 'trusted' | 'untrusted';
  config: Record<string, string | boolean | number>;
  environment: {
    /** The node's server certificate (PEM), the one to pin. */
    certificate: string;
    certificateFingerprint: string;
    addresses: string[];
    architectures: string[];
    firewall: string;
    kernelVersion: string;
    osName: string;
    osVersion: string;
    serverName: string;
    serverVersion: string;
    serverClustered: boolean;
    storage: string;
    storageDrivers: string[];
  } | null;
}

/**
 * `GET /1.0`: API extensions, server configuration and environment (incl. the server
 * certificate). Synchronous, no operation.
 * @throws LxdError, LxdUnavailableError
 */
export async function getServer(client: LxdClient): Promise<LxdServerInfo> {
  const { metadata } = await client.sync('GET', lxdPath`/1.0`);
  const server = parse(serverSchema, metadata, 'GET /1.0');
  const env = server.environment;
  return {
    apiVersion: server.api_version,
    apiExtensions: server.api_extensions,
    auth: server.auth === 'trusted' ? 'trusted' : 'untrusted',
    config: server.config ?? {},
    environment: env
      ? {
          certificate: env.certificate,
          certificateFingerprint: env.certificate_fingerprint,
          addresses: env.addresses ?? [],
          architectures: env.architectures ?? [],
          firewall: env.firewall,
          kernelVersion: env.kernel_version,
          osName: env.os_name,
          osVersion: env.os_version,
          serverName: env.server_name,
          serverVersion: env.server_version,
          serverClustered: env.server_clustered,
          storage: env.storage,
          storageDrivers: (env.storage_supported_drivers ?? []).map((d) => d.Name),
        }
      : null,
  };
}

const hostResourcesSchema = z.object({
  cpu: z.object({ total: z.number().int().nonnegative() }),
  memory: z.object({ total: z.number().nonnegative(), used: z.number().nonnegative() }),
});

const poolResourcesSchema = z.object({
  space: z.object({ total: z.number().nonnegative(), used: z.number().nonnegative() }),
});

/** Capacity of a node: CPU threads, memory and one storage pool's space, all in bytes. */
export interface LxdResources {
  cpu: { threads: number };
  memory: { total: number; used: number };
  storage: { pool: string; total: number; used: number };
}

/**
 * `GET /1.0/resources` (CPU threads, memory) and `GET /1.0/storage-pools/{pool}/resources`
 * (space of `pool`, default `default`). Both synchronous.
 * @throws LxdError (for a missing pool LXD 5.0.2 answers 500 "Storage pool not found", not 404),
 *   LxdUnavailableError
 */
export async function getResources(client: LxdClient, options: { pool?: string } = {}): Promise<LxdResources> {
  const pool = options.pool ?? 'default';
  const [host, storage] = await Promise.all([
    client.sync('GET', lxdPath`/1.0/resources`),
    client.sync('GET', lxdPath`/1.0/storage-pools/${pool}/resources`),
  ]);
  const h = parse(hostResourcesSchema, host.metadata, 'GET /1.0/resources');
  const s = parse(poolResourcesSchema, storage.metadata, 'GET /1.0/storage-pools/{pool}/resources');
  return {
    cpu: { threads: h.cpu.total },
    memory: { total: h.memory.total, used: h.memory.used },
    storage: { pool, total: s.space.total, used: s.space.used },
  };
}
