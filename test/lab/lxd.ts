import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { run, waitUntil } from './exec';
import { LXD_PORT, POOL_SIZE, TRUST_PASSWORD, ensureDir, type NodeLayout } from './layout';
import { inNode } from './net';
import { pidFromFile, terminate } from './proc';

interface LxdResponse {
  type: 'sync' | 'async' | 'error';
  status_code: number;
  error_code: number;
  error: string;
  operation: string;
  metadata: any;
}

export class LxdError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** One REST call to a node's daemon over its unix socket (trusted, no certificates involved). */
function lxdRequest(node: NodeLayout, method: string, urlPath: string, body?: unknown, timeoutMs = 60_000): Promise<LxdResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: path.join(node.lxdDir, 'unix.socket'),
        method,
        path: urlPath,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          let parsed: LxdResponse;
          try {
            parsed = JSON.parse(text) as LxdResponse;
          } catch {
            return reject(new LxdError(`${node.name}: ${method} ${urlPath}: unparsable answer (HTTP ${res.statusCode}): ${text.slice(0, 200)}`, res.statusCode ?? 0));
          }
          if (parsed.type === 'error') {
            return reject(new LxdError(`${node.name}: ${method} ${urlPath}: ${parsed.error} (${parsed.error_code})`, parsed.error_code));
          }
          resolve(parsed);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${node.name}: ${method} ${urlPath}: no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A call whose result is wanted: async operations are awaited through their id, with a deadline. */
async function lxd(node: NodeLayout, method: string, urlPath: string, body?: unknown): Promise<any> {
  const res = await lxdRequest(node, method, urlPath, body);
  if (res.type !== 'async') return res.metadata;
  const op = await lxdRequest(node, 'GET', `${res.operation}/wait?timeout=60`, undefined, 70_000);
  if (op.metadata.status_code !== 200) {
    throw new LxdError(`${node.name}: ${method} ${urlPath}: ${op.metadata.err || op.metadata.status}`, op.metadata.status_code);
  }
  return op.metadata.metadata;
}

export function lxdUrl(node: NodeLayout): string {
  return `https://${node.address}:${LXD_PORT}`;
}

/** The daemon's pid if it runs; its command line carries the node's own log path. */
export function lxdPid(node: NodeLayout): number | null {
  return pidFromFile(node.lxdPidFile, node.lxdLog);
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(nothing)';
  }
}

/**
 * Starts the node's daemon in its namespace, detached so it outlives the CLI, and waits until it
 * answers. Its mounts (storage pool, shmounts, devlxd) live in the private mount namespace that
 * `ip netns exec` gives it, so they never show in the host's mount table and go away with it.
 */
async function startDaemon(node: NodeLayout): Promise<void> {
  ensureDir(node.lxdDir, 0o711);
  const out = fs.openSync(node.lxdOut, 'a');
  const [cmd, ...args] = inNode(node, ['lxd', '--group', 'root', '--logfile', node.lxdLog]);
  const child = spawn(cmd, args, {
    env: { ...process.env, LXD_DIR: node.lxdDir },
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`exit ${code ?? signal}`)));
  child.unref();
  if (child.pid === undefined) throw new Error(`${node.name}: could not start lxd; ${tail(node.lxdOut)}`);
  // `ip netns exec` and the shell both exec, so this pid ends up being lxd itself.
  fs.writeFileSync(node.lxdPidFile, `${child.pid}\n`);
  const ready = run('lxd', ['waitready', '--timeout=60'], { env: { LXD_DIR: node.lxdDir }, timeoutMs: 70_000, allowFail: true });
  const outcome = await Promise.race([ready.then((r) => (r.code === 0 ? 'ready' : `waitready failed: ${r.stderr.trim()}`)), exited.then((e) => `daemon ended (${e})`)]);
  if (outcome !== 'ready') {
    throw new Error(`${node.name}: lxd did not become ready: ${outcome}\n--- ${node.lxdOut}\n${tail(node.lxdOut)}\n--- ${node.lxdLog}\n${tail(node.lxdLog)}`);
  }
}

/**
 * Brings the daemon to the state the lab promises, changing only what differs: HTTPS on the node
 * address, the trust password, a btrfs pool `default` on a loop file LXD makes itself (`size`
 * without `source`), and a root disk in the default profile. No network devices: container
 * networking is Corral's job.
 */
async function initialise(node: NodeLayout): Promise<void> {
  const server = await lxd(node, 'GET', '/1.0');
  const config: Record<string, string> = {};
  const httpsAddress = `${node.address}:${LXD_PORT}`;
  if (server.config['core.https_address'] !== httpsAddress) config['core.https_address'] = httpsAddress;
  // LXD shows a set password only as `true`, so an existing one is left as it is.
  if (!server.config['core.trust_password']) config['core.trust_password'] = TRUST_PASSWORD;
  if (Object.keys(config).length > 0) await lxd(node, 'PATCH', '/1.0', { config });

  const pool = await lxd(node, 'GET', '/1.0/storage-pools/default').catch((e: unknown) => {
    if (e instanceof LxdError && e.status === 404) return null;
    throw e;
  });
  if (pool === null) {
    await lxd(node, 'POST', '/1.0/storage-pools', { name: 'default', driver: 'btrfs', config: { size: POOL_SIZE } });
  } else if (pool.driver !== 'btrfs') {
    throw new Error(`${node.name}: storage pool "default" uses ${pool.driver}, not btrfs; run \`npm run lab -- down\` and up again`);
  }

  const profile = await lxd(node, 'GET', '/1.0/profiles/default');
  if (!profile.devices?.root) {
    await lxd(node, 'PATCH', '/1.0/profiles/default', { devices: { root: { path: '/', pool: 'default', type: 'disk' } } });
  }
}

export async function ensureLxd(node: NodeLayout): Promise<void> {
  if (lxdPid(node) === null) await startDaemon(node);
  await initialise(node);
}

/**
 * `lxd shutdown` stops the daemon's containers cleanly and then the daemon; if it hangs, the
 * daemon is killed (its containers die with their monitors, which hold them by PDEATHSIG).
 */
export async function stopLxd(node: NodeLayout): Promise<void> {
  const pid = lxdPid(node);
  if (pid === null) return;
  const r = await run('lxd', ['shutdown', '--timeout=60'], { env: { LXD_DIR: node.lxdDir }, timeoutMs: 75_000, allowFail: true });
  try {
    await waitUntil(`lxd of ${node.name} (pid ${pid}) to exit after \`lxd shutdown\``, 10_000, () => lxdPid(node) === null);
  } catch {
    process.stderr.write(`${node.name}: lxd shutdown did not stop the daemon (${r.stderr.trim() || `exit ${r.code}`}); killing it\n`);
    await terminate([pid], `lxd of ${node.name}`, 2_000);
  }
}
