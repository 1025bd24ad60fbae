import { z } from 'zod';
import { lxdPath, parseMetadata, type LxdClient } from './client';
import { LxdError, isConflict, isNotFound } from './errors';

const projectSchema = z.object({
  name: z.string().min(1),
  description: z.string().default(''),
  config: z.record(z.string(), z.string()).nullable().default({}),
  used_by: z.array(z.string()).nullable().default([]),
});

/** An LXD project (`GET /1.0/projects/{name}`), parsed. */
export interface LxdProject {
  name: string;
  description: string;
  /** `features.*`, `limits.*`, `restricted.*`, … as LXD stores them (LXD fills in feature defaults). */
  config: Record<string, string>;
  usedBy: string[];
}

/**
 * `GET /1.0/projects/{name}`. Synchronous.
 * @returns the project, or null when it does not exist.
 * @throws LxdError, LxdUnavailableError
 */
export async function getProject(client: LxdClient, name: string): Promise<LxdProject | null> {
  try {
    const { metadata } = await client.sync('GET', lxdPath`/1.0/projects/${name}`);
    const p = parseMetadata(projectSchema, metadata, 'GET /1.0/projects/{name}');
    return { name: p.name, description: p.description, config: p.config ?? {}, usedBy: p.used_by ?? [] };
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** The root disk every instance in a project gets through the project's `default` profile. */
export interface RootDisk {
  pool: string;
  /** e.g. `300MiB`; left out means no quota. */
  size?: string;
}

/** What {@link ensureProject} should make sure of. */
export interface EnsureProjectInput {
  /** Config for a new project (`features.*`, `limits.*`, `restricted.*`). An existing project's config is left as it is. */
  config?: Record<string, string>;
  description?: string;
  /** Root disk for the project's own `default` profile; defaults to pool `default`, no size. */
  rootDisk?: RootDisk;
}

/**
 * Makes sure the project exists: `GET /1.0/projects/{name}`, and when missing
 * `POST /1.0/projects` (sync); losing a creation race ("already exists") is fine. An existing
 * project is not reconfigured (changing `features.*` fails once it holds instances).
 *
 * Then, when the project has `features.profiles=true`, its own `default` profile starts empty
 * in LXD 5.0.2 and instances cannot be created until it has a root disk: the profile's disk at
 * path `/` is set to `rootDisk` via `GET` + `PUT /1.0/profiles/default?project=…` with `If-Match`
 * (PATCH cannot replace a device). With `features.profiles=false` the project uses the default
 * project's profile, which is left alone.
 * @returns the project as read back, and whether this call created it.
 * @throws LxdError (500 invalid config, 412 when the profile kept changing concurrently), LxdUnavailableError
 */
export async function ensureProject(client: LxdClient, name: string, input: EnsureProjectInput = {}): Promise<{ project: LxdProject; created: boolean }> {
  let created = false;
  if (!(await getProject(client, name))) {
    try {
      await client.sync('POST', lxdPath`/1.0/projects`, { body: { name, description: input.description ?? '', config: input.config ?? {} } });
      created = true;
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  }
  const project = await getProject(client, name);
  if (!project) throw new LxdError(`project ${name} is missing after creating it`, { status: 500, lxdCode: 0 });
  if (project.config['features.profiles'] === 'true') {
    // Several runners (or replicas) may set the root disk at once: whoever loses the ETag race
    // reads the profile again, and usually finds the disk already there.
    for (let attempt = 1; ; attempt++) {
      try {
        await ensureRootDisk(client, name, input.rootDisk ?? { pool: 'default' });
        break;
      } catch (e) {
        if (!(e instanceof LxdError && e.status === 412) || attempt >= 3) throw e;
      }
    }
  }
  return { project, created };
}

const profileSchema = z.object({
  name: z.string(),
  description: z.string().default(''),
  config: z.record(z.string(), z.string()).nullable().default({}),
  devices: z.record(z.string(), z.record(z.string(), z.string())).nullable().default({}),
});

async function ensureRootDisk(client: LxdClient, project: string, disk: RootDisk): Promise<void> {
  const { metadata, etag } = await client.sync('GET', lxdPath`/1.0/profiles/${'default'}`, { project });
  const profile = parseMetadata(profileSchema, metadata, 'GET /1.0/profiles/default');
  const devices = profile.devices ?? {};
  const [rootName, root] = Object.entries(devices).find(([, d]) => d['type'] === 'disk' && d['path'] === '/') ?? ['root', undefined];
  const wanted: Record<string, string> = { type: 'disk', path: '/', pool: disk.pool, ...(disk.size ? { size: disk.size } : {}) };
  if (root && root['pool'] === wanted['pool'] && (disk.size === undefined || root['size'] === disk.size)) return;
  await client.sync('PUT', lxdPath`/1.0/profiles/${'default'}`, {
    project,
    body: { description: profile.description, config: profile.config ?? {}, devices: { ...devices, [rootName]: { ...root, ...wanted } } },
    ...(etag ? { headers: { 'if-match': etag } } : {}),
  });
}

/**
 * `DELETE /1.0/projects/{name}` (sync). Idempotent: a missing project counts as deleted.
 * LXD refuses (400) while the project still holds instances, images or volumes.
 * @throws LxdError, LxdUnavailableError
 */
export async function deleteProject(client: LxdClient, name: string): Promise<void> {
  try {
    await client.sync('DELETE', lxdPath`/1.0/projects/${name}`);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
