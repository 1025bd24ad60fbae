import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { lxdPath, parseMetadata, type LxdClient } from './client';
import { isNotFound } from './errors';

/** How Corral takes backups: the instance alone (no snapshots), a portable tarball (not driver-native), gzip, kept until deleted. */
const BACKUP_OPTIONS = { instance_only: true, optimized_storage: false, compression_algorithm: 'gzip' } as const;

/**
 * `POST /1.0/instances/{name}/backups` (API extension `container_backup`), waited. Works on a
 * running instance. No `expires_at`: LXD keeps it until it is deleted (or the instance is).
 * @throws LxdError (404 no instance; 400 e.g. a duplicate name), LxdOperationTimeoutError, LxdUnavailableError
 */
export async function createBackup(client: LxdClient, project: string, instance: string, name: string, waitMs?: number): Promise<void> {
  await client.operation('POST', lxdPath`/1.0/instances/${instance}/backups`, { project, body: { name, ...BACKUP_OPTIONS }, ...(waitMs === undefined ? {} : { waitMs }) });
}

const backupSchema = z.object({ name: z.string().min(1), created_at: z.string().default('') });

/**
 * `GET /1.0/instances/{name}/backups/{backup}`. Synchronous.
 * @returns null when the backup (or its instance) does not exist.
 */
export async function getBackup(client: LxdClient, project: string, instance: string, name: string): Promise<{ name: string; createdAt: string } | null> {
  try {
    const { metadata } = await client.sync('GET', lxdPath`/1.0/instances/${instance}/backups/${name}`, { project });
    const parsed = parseMetadata(backupSchema, metadata, 'GET /1.0/instances/{name}/backups/{backup}');
    return { name: parsed.name, createdAt: parsed.created_at };
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/**
 * `DELETE /1.0/instances/{name}/backups/{backup}`, waited. Idempotent: a missing backup (or
 * instance) counts as deleted.
 */
export async function deleteBackup(client: LxdClient, project: string, instance: string, name: string): Promise<void> {
  try {
    await client.operation('DELETE', lxdPath`/1.0/instances/${instance}/backups/${name}`, { project });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/**
 * `GET /1.0/instances/{name}/backups/{backup}/export`: the gzip tarball as a stream
 * (`backup/index.yaml`, `backup/container/…`), with its size when LXD sends Content-Length.
 * @returns null when the backup (or its instance) does not exist.
 */
export async function exportBackup(client: LxdClient, project: string, instance: string, name: string): Promise<{ size: number | null; body: Readable } | null> {
  try {
    return await client.download(lxdPath`/1.0/instances/${instance}/backups/${name}/export`, { project });
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/**
 * `POST /1.0/instances` with the tarball as `application/octet-stream` (chunked), `X-LXD-name`
 * and `X-LXD-pool`: a new, stopped instance restored from a backup, waited. The instance keeps
 * the backup's `volatile.uuid` and cloud-init instance-id (LXD-NOTES section 6).
 * @throws LxdError (e.g. "Cannot restore volume, already exists on target" for a taken name)
 */
export async function importBackup(client: LxdClient, project: string, name: string, pool: string, file: string, waitMs: number): Promise<void> {
  const response = await client.request('POST', lxdPath`/1.0/instances`, {
    project,
    stream: fs.createReadStream(file),
    headers: { 'content-type': 'application/octet-stream', 'x-lxd-name': name, 'x-lxd-pool': pool },
    timeoutMs: waitMs,
  });
  if (response.type !== 'async') throw new Error('LXD did not start a restore operation');
  await client.wait(response.operation, { project, timeoutMs: waitMs });
}

/**
 * Makes `target`'s root volume a copy of `source`'s (`POST /1.0/instances` with a `copy` source
 * and `refresh: true`, API extension `container_incremental_copy`), waited. Both must be stopped.
 * The target keeps its own config, devices, identity and backups: only the data changes
 * (verified on LXD 5.0.2 with btrfs).
 */
export async function refreshInstance(client: LxdClient, project: string, target: string, source: string, waitMs: number): Promise<void> {
  await client.operation('POST', lxdPath`/1.0/instances`, {
    project,
    body: { name: target, source: { type: 'copy', source, instance_only: true, refresh: true } },
    waitMs,
  });
}

/**
 * `POST /1.0/instances` with a `copy` source on the same node (instance only), waited: a new
 * instance `name` with `config` and `devices` over the source's own, and a new `volatile.uuid` and
 * cloud-init instance-id. (A restricted project forbids setting volatile keys by PATCH, so a copy is
 * how a restored instance gets a new identity.)
 */
export async function copyInstance(
  client: LxdClient,
  project: string,
  source: string,
  name: string,
  overrides: { config: Record<string, string>; devices: Record<string, Record<string, string>> },
  waitMs: number,
): Promise<void> {
  await client.operation('POST', lxdPath`/1.0/instances`, {
    project,
    body: { name, source: { type: 'copy', source, instance_only: true }, config: overrides.config, devices: overrides.devices },
    waitMs,
  });
}
