import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { lxdPath, parseMetadata, type LxdClient } from './client';
import { LxdError, isConflict, isNotFound } from './errors';

const imageSchema = z.object({
  fingerprint: z.string().min(1),
  filename: z.string().default(''),
  size: z.number().default(0),
  public: z.boolean().default(false),
  architecture: z.string().default(''),
  type: z.string().default('container'),
  properties: z.record(z.string(), z.string()).nullable().default({}),
  aliases: z.array(z.object({ name: z.string(), description: z.string().default('') })).nullable().default([]),
  uploaded_at: z.string().default(''),
});

/** An image in a node's store (`GET /1.0/images/{fingerprint}`), parsed. */
export interface LxdImage {
  fingerprint: string;
  filename: string;
  size: number;
  public: boolean;
  architecture: string;
  type: string;
  properties: Record<string, string>;
  aliases: string[];
  uploadedAt: string;
}

/** Images live in a project; projects with `features.images=false` share the `default` project's. */
export interface ImageScope {
  /** Defaults to `default`. */
  project?: string;
}

/**
 * `GET /1.0/images/{fingerprint}?project=…`. Synchronous. A unique prefix of the fingerprint
 * works too (LXD resolves it).
 * @returns the image, or null when the node does not have it.
 * @throws LxdError, LxdUnavailableError
 */
export async function getImage(client: LxdClient, fingerprint: string, scope: ImageScope = {}): Promise<LxdImage | null> {
  try {
    const { metadata } = await client.sync('GET', lxdPath`/1.0/images/${fingerprint}`, { project: scope.project ?? 'default' });
    const i = parseMetadata(imageSchema, metadata, 'GET /1.0/images/{fingerprint}');
    return {
      fingerprint: i.fingerprint,
      filename: i.filename,
      size: i.size,
      public: i.public,
      architecture: i.architecture,
      type: i.type,
      properties: i.properties ?? {},
      aliases: (i.aliases ?? []).map((a) => a.name),
      uploadedAt: i.uploaded_at,
    };
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** SHA-256 of a file, streamed: the fingerprint LXD gives a unified image tarball. */
export async function sha256OfFile(filePath: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(filePath), hash);
  return hash.digest('hex');
}

/** Options for {@link uploadImage}. */
export interface UploadImageOptions extends ImageScope {
  /** `X-LXD-public`: other nodes may pull it without trust. Default false. */
  public?: boolean;
  /** Deadline for sending the file (default 10 minutes). */
  uploadTimeoutMs?: number;
  /** Deadline for LXD to unpack and register it (default: the client's operation timeout). */
  waitMs?: number;
}

/**
 * Uploads a unified image tarball (metadata.yaml + rootfs/ in one tar): `POST /1.0/images`
 * with the file streamed from disk as `application/octet-stream`, then waits for the operation.
 * Idempotent: the file's SHA-256 is its fingerprint, so an image the node already has is not
 * sent again, and "Image with same fingerprint already exists" from a concurrent upload counts
 * as done. The image is read back before returning.
 * @returns the image fingerprint.
 * @throws LxdError (400 for a tarball LXD cannot read), LxdOperationTimeoutError, LxdUnavailableError,
 *   and the file system's error when the file cannot be read.
 */
export async function uploadImage(client: LxdClient, filePath: string, options: UploadImageOptions = {}): Promise<string> {
  const project = options.project ?? 'default';
  const { size } = await stat(filePath);
  const local = await sha256OfFile(filePath);
  if (await getImage(client, local, { project })) return local;

  let fingerprint = local;
  const stream = createReadStream(filePath);
  try {
    const outcome = await client.operation('POST', lxdPath`/1.0/images`, {
      project,
      stream,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(size),
        'x-lxd-public': options.public ? '1' : '0',
        'x-lxd-filename': basename(filePath),
      },
      timeoutMs: options.uploadTimeoutMs ?? 10 * 60_000,
      ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
    });
    const reported = outcome.kind === 'finished' ? outcome.operation.metadata['fingerprint'] : undefined;
    if (typeof reported === 'string' && reported) fingerprint = reported;
  } catch (e) {
    if (!isConflict(e)) throw e;
  } finally {
    stream.destroy();
  }
  if (!(await getImage(client, fingerprint, { project }))) {
    throw new LxdError(`image ${fingerprint} is missing after its upload`, { status: 500, lxdCode: 0 });
  }
  return fingerprint;
}

/**
 * `DELETE /1.0/images/{fingerprint}?project=…`, waiting for the operation.
 * Idempotent: an image the node does not have counts as deleted.
 * @throws LxdError, LxdOperationTimeoutError, LxdUnavailableError
 */
export async function deleteImage(client: LxdClient, fingerprint: string, options: ImageScope & { waitMs?: number } = {}): Promise<void> {
  const project = options.project ?? 'default';
  try {
    await client.operation('DELETE', lxdPath`/1.0/images/${fingerprint}`, { project, ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }) });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  if (await getImage(client, fingerprint, { project })) {
    throw new LxdError(`image ${fingerprint} still exists after its delete operation`, { status: 500, lxdCode: 0 });
  }
}
