import { z } from 'zod';
import { lxdPath, parseMetadata, type LxdClient } from './client';
import { LxdError, isNotFound } from './errors';

const stringMap = z.record(z.string(), z.string());
const deviceMap = z.record(z.string(), stringMap);

const instanceSchema = z.object({
  name: z.string().min(1),
  project: z.string().default('default'),
  type: z.string().default('container'),
  status: z.string(),
  status_code: z.number().int(),
  location: z.string().default(''),
  architecture: z.string().default(''),
  description: z.string().default(''),
  ephemeral: z.boolean().default(false),
  stateful: z.boolean().default(false),
  profiles: z.array(z.string()).nullable().default([]),
  config: stringMap.nullable().default({}),
  devices: deviceMap.nullable().default({}),
  expanded_config: stringMap.nullable().default({}),
  expanded_devices: deviceMap.nullable().default({}),
  created_at: z.string().default(''),
  last_used_at: z.string().default(''),
});

/** An instance as LXD describes it (`GET /1.0/instances/{name}`), parsed. */
export interface LxdInstance {
  name: string;
  project: string;
  type: string;
  /** `Running`, `Stopped`, `Frozen`, `Error`, … */
  status: string;
  statusCode: number;
  /** Cluster member; `none` on a standalone node. */
  location: string;
  architecture: string;
  description: string;
  ephemeral: boolean;
  stateful: boolean;
  profiles: string[];
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  expandedConfig: Record<string, string>;
  expandedDevices: Record<string, Record<string, string>>;
  createdAt: string;
  lastUsedAt: string;
}

function toInstance(raw: z.output<typeof instanceSchema>): LxdInstance {
  return {
    name: raw.name,
    project: raw.project,
    type: raw.type,
    status: raw.status,
    statusCode: raw.status_code,
    location: raw.location,
    architecture: raw.architecture,
    description: raw.description,
    ephemeral: raw.ephemeral,
    stateful: raw.stateful,
    profiles: raw.profiles ?? [],
    config: raw.config ?? {},
    devices: raw.devices ?? {},
    expandedConfig: raw.expanded_config ?? {},
    expandedDevices: raw.expanded_devices ?? {},
    createdAt: raw.created_at,
    lastUsedAt: raw.last_used_at,
  };
}

/** What a new instance is made from: an image by fingerprint (preferred, exact) or by alias. */
export type LxdInstanceSource = { type: 'image'; fingerprint: string } | { type: 'image'; alias: string };

/** The body of `POST /1.0/instances`, the parts Corral sets. */
export interface CreateInstanceInput {
  name: string;
  source: LxdInstanceSource;
  /** Defaults to `container`. */
  type?: 'container';
  /** Defaults to `["default"]` (LXD's own default). */
  profiles?: string[];
  config?: Record<string, string>;
  devices?: Record<string, Record<string, string>>;
  description?: string;
}

/** Per-call deadline for the operation wait; defaults to the client's operation timeout. */
export interface WaitOptions {
  waitMs?: number;
}

/**
 * `POST /1.0/instances?project=…`, then waits for the operation and re-reads the instance.
 * Not idempotent by itself: a duplicate name fails **asynchronously** in LXD 5.0.2, which comes
 * back here as LxdError status 400 "…already exists" (`isConflict`).
 * @throws LxdError (404 unknown image alias, 400 duplicate, 500 invalid config…),
 *   LxdOperationTimeoutError, LxdUnavailableError
 */
export async function createInstance(client: LxdClient, project: string, input: CreateInstanceInput, options: WaitOptions = {}): Promise<LxdInstance> {
  const body = {
    name: input.name,
    type: input.type ?? 'container',
    source: input.source,
    ...(input.profiles === undefined ? {} : { profiles: input.profiles }),
    config: input.config ?? {},
    devices: input.devices ?? {},
    description: input.description ?? '',
  };
  await client.operation('POST', lxdPath`/1.0/instances`, { project, body, ...waitMs(options) });
  const instance = await getInstance(client, project, input.name);
  if (!instance) throw new LxdError(`instance ${input.name} is missing after its create operation`, { status: 500, lxdCode: 0 });
  return instance;
}

/**
 * `GET /1.0/instances/{name}?project=…`. Synchronous.
 * @returns the instance, or null when it does not exist (404).
 * @throws LxdError (other refusals), LxdUnavailableError
 */
export async function getInstance(client: LxdClient, project: string, name: string): Promise<LxdInstance | null> {
  try {
    const { metadata } = await client.sync('GET', lxdPath`/1.0/instances/${name}`, { project });
    return toInstance(parseMetadata(instanceSchema, metadata, 'GET /1.0/instances/{name}'));
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

const addressSchema = z.object({ family: z.string(), address: z.string(), netmask: z.string().default(''), scope: z.string().default('') });
const stateSchema = z.object({
  status: z.string(),
  status_code: z.number().int(),
  pid: z.number().int().default(0),
  processes: z.number().int().default(0),
  cpu: z.object({ usage: z.number().default(0) }).nullable().default(null),
  memory: z.object({ usage: z.number().default(0), usage_peak: z.number().default(0) }).nullable().default(null),
  disk: z.record(z.string(), z.object({ usage: z.number().default(0) })).nullable().default({}),
  network: z
    .record(z.string(), z.object({ addresses: z.array(addressSchema).nullable().default([]), host_name: z.string().default(''), state: z.string().default('') }))
    .nullable()
    .default({}),
});

/** Live state of an instance (`GET /1.0/instances/{name}/state`). */
export interface LxdInstanceState {
  status: string;
  statusCode: number;
  pid: number;
  processes: number;
  /** CPU time used, nanoseconds. */
  cpuUsageNs: number;
  memory: { usage: number; peak: number };
  /** Bytes used per disk device (only where the storage driver reports it). */
  disk: Record<string, { usage: number }>;
  network: Record<string, { hostName: string; state: string; addresses: { family: string; address: string; netmask: string; scope: string }[] }>;
}

/**
 * `GET /1.0/instances/{name}/state?project=…`. Synchronous.
 * @returns the state, or null when the instance does not exist (404).
 * @throws LxdError, LxdUnavailableError
 */
export async function getInstanceState(client: LxdClient, project: string, name: string): Promise<LxdInstanceState | null> {
  let metadata: unknown;
  try {
    ({ metadata } = await client.sync('GET', lxdPath`/1.0/instances/${name}/state`, { project }));
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
  const s = parseMetadata(stateSchema, metadata, 'GET /1.0/instances/{name}/state');
  return {
    status: s.status,
    statusCode: s.status_code,
    pid: s.pid,
    processes: s.processes,
    cpuUsageNs: s.cpu?.usage ?? 0,
    memory: { usage: s.memory?.usage ?? 0, peak: s.memory?.usage_peak ?? 0 },
    disk: s.disk ?? {},
    network: Object.fromEntries(
      Object.entries(s.network ?? {}).map(([nic, n]) => [nic, { hostName: n.host_name, state: n.state, addresses: n.addresses ?? [] }]),
    ),
  };
}

const listItemSchema = z.object({
  name: z.string().min(1),
  project: z.string().default('default'),
  status: z.string(),
  status_code: z.number().int(),
  location: z.string().default(''),
});

/** One row of {@link listInstances}. */
export interface LxdInstanceSummary {
  name: string;
  project: string;
  status: string;
  statusCode: number;
  location: string;
}

/**
 * `GET /1.0/instances?recursion=1` with `project=…`, or `all-projects=true`. Synchronous.
 * Used to re-sync after an event stream reconnects.
 * @throws LxdError (404 unknown project), LxdUnavailableError
 */
export async function listInstances(client: LxdClient, scope: string | { allProjects: true }): Promise<LxdInstanceSummary[]> {
  const { metadata } = await client.sync('GET', lxdPath`/1.0/instances`, {
    ...(typeof scope === 'string' ? { project: scope } : { allProjects: true }),
    query: { recursion: 1 },
  });
  const list = parseMetadata(z.array(listItemSchema).nullable(), metadata, 'GET /1.0/instances?recursion=1') ?? [];
  return list.map((i) => ({ name: i.name, project: i.project, status: i.status, statusCode: i.status_code, location: i.location }));
}

/** A state change (`PUT /1.0/instances/{name}/state`). */
export interface InstanceStateChange {
  action: 'start' | 'stop' | 'restart';
  /** stop/restart: kill instead of a clean shutdown. */
  force?: boolean;
  /** stop/restart: seconds to wait for a clean shutdown before LXD gives up (-1: forever). */
  timeout?: number;
}

const EXPECTED_STATUS = { start: 'Running', stop: 'Stopped', restart: 'Running' } as const;
/** How long LXD may spend on a clean shutdown when the caller gave no timeout. */
const DEFAULT_STOP_SECONDS = 30;

/**
 * `PUT /1.0/instances/{name}/state?project=…`, waits for the operation, then re-reads the
 * status and checks it is the expected one (Running after start/restart, Stopped after stop).
 * Idempotent: start on a running instance and stop on a stopped one return at once (checked
 * before, and LXD's "already running/stopped" failure is accepted too when racing).
 * The wait deadline covers the shutdown `timeout` plus the client's operation timeout.
 * @returns the status read back.
 * @throws LxdError (404 no such instance; 400 e.g. restart of a stopped instance; 500 when
 *   the instance is not in the expected state afterwards), LxdOperationTimeoutError, LxdUnavailableError
 */
export async function setInstanceState(client: LxdClient, project: string, name: string, change: InstanceStateChange, options: WaitOptions = {}): Promise<string> {
  const before = await getInstanceState(client, project, name);
  if (!before) throw new LxdError(`Instance not found: ${name}`, { status: 404 });
  const expected = EXPECTED_STATUS[change.action];
  if (change.action !== 'restart' && before.status === expected) return before.status;

  const timeout = change.action === 'start' ? undefined : (change.timeout ?? (change.force ? undefined : DEFAULT_STOP_SECONDS));
  const body = {
    action: change.action,
    force: change.force ?? false,
    ...(timeout === undefined ? {} : { timeout }),
  };
  const shutdownMs = timeout !== undefined && timeout > 0 ? timeout * 1000 : 0;
  const wait = { waitMs: (options.waitMs ?? client.operationTimeoutMs) + shutdownMs };
  try {
    await client.operation('PUT', lxdPath`/1.0/instances/${name}/state`, { project, body, ...wait });
  } catch (e) {
    const alreadyThere =
      e instanceof LxdError &&
      ((change.action === 'start' && /already running/i.test(e.message)) || (change.action === 'stop' && /already stopped/i.test(e.message)));
    if (!alreadyThere) throw e;
  }
  const after = await getInstanceState(client, project, name);
  if (!after) throw new LxdError(`Instance not found: ${name}`, { status: 404 });
  if (after.status !== expected) {
    throw new LxdError(`instance ${name} is ${after.status} after ${change.action}, expected ${expected}`, { status: 500, lxdCode: 0 });
  }
  return after.status;
}

/**
 * Deletes an instance: stops it first (forced) when it is not stopped, then
 * `DELETE /1.0/instances/{name}?project=…`, waits, and checks it is gone.
 * Idempotent: a missing instance (404, before or during) counts as deleted.
 * @throws LxdError (e.g. "Container is protected" with security.protection.delete),
 *   LxdOperationTimeoutError, LxdUnavailableError
 */
export async function deleteInstance(client: LxdClient, project: string, name: string, options: WaitOptions = {}): Promise<void> {
  const instance = await getInstance(client, project, name);
  if (!instance) return;
  if (instance.status !== 'Stopped') {
    try {
      await setInstanceState(client, project, name, { action: 'stop', force: true }, options);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
  }
  try {
    await client.operation('DELETE', lxdPath`/1.0/instances/${name}`, { project, ...waitMs(options) });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  if (await getInstance(client, project, name)) {
    throw new LxdError(`instance ${name} still exists after its delete operation`, { status: 500, lxdCode: 0 });
  }
}

function waitMs(options: WaitOptions): { waitMs?: number } {
  return options.waitMs === undefined ? {} : { waitMs: options.waitMs };
}
