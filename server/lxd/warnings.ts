import { z } from 'zod';
import { lxdPath, parseMetadata, type LxdClient } from './client';

const warningSchema = z.object({
  type: z.string(),
  last_message: z.string().default(''),
  status: z.string().default('new'),
  severity: z.string().default(''),
  project: z.string().default(''),
});

/** A warning LXD raised about itself (`GET /1.0/warnings`), e.g. a cgroup controller it could not find. */
export interface LxdWarning {
  type: string;
  message: string;
  /** `new`, `acknowledged` or `resolved`. */
  status: string;
  severity: string;
  project: string;
}

/**
 * `GET /1.0/warnings?recursion=1` (API extension `warnings`). Synchronous.
 * @throws LxdError, LxdUnavailableError
 */
export async function listWarnings(client: LxdClient): Promise<LxdWarning[]> {
  const { metadata } = await client.sync('GET', lxdPath`/1.0/warnings`, { query: { recursion: 1 } });
  const list = parseMetadata(z.array(warningSchema).nullable(), metadata, 'GET /1.0/warnings?recursion=1') ?? [];
  return list.map((w) => ({ type: w.type, message: w.last_message, status: w.status, severity: w.severity, project: w.project }));
}
