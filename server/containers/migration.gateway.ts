import { lxdPath, type LxdClient, type LxdOperation } from '../lxd/client';
import { LxdError } from '../lxd/errors';
import { deleteInstance, getInstance, type LxdInstance } from '../lxd/instances';
import { LxdGateway } from '../nodes/lxd-gateway';
import type { NodeGateway } from '../nodes/node-gateway';
import type { Node } from '../nodes/node.entity';
import { MigrationMode } from './migration-mode';

/** What a cold migration asks of two nodes, beyond the node gateway's own calls. */
export interface MigrationNodes {
  /**
   * Copies the stopped instance from `source` to `target` (LXD migration; in pull mode the target
   * dials the source's operation websockets, in push mode the source dials the target's), waiting
   * both operations within `deadlineMs` and checking their status. Snapshots travel too. Leaves
   * the source instance alone. The target must not have the instance.
   */
  copyInstance(source: Node, target: Node, project: string, name: string, deadlineMs: number, mode?: MigrationMode): Promise<void>;
  /** Deletes the instance from a node; a missing one counts as deleted. */
  removeInstance(node: Node, project: string, name: string): Promise<void>;
}

/** Volatile keys describe the instance on its old node; LXD sets them afresh on the target. */
function portableConfig(config: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(config).filter(([key]) => !key.startsWith('volatile.') || key === 'volatile.base_image'));
}

/** The websocket secrets (`control`, `fs`) in the metadata of the side that offers the connection. */
function secretsOf(operation: LxdOperation, side: string): Record<string, string> {
  const secrets = Object.fromEntries(Object.entries(operation.metadata).filter((e): e is [string, string] => typeof e[1] === 'string'));
  if (!secrets.control || !secrets.fs) throw new LxdError(`the ${side} migration operation carries no secrets`, { status: 500, lxdCode: 0 });
  return secrets;
}

/**
 * Waits both sides of a migration: the one that offered a websocket operation (`offer`) and the
 * one that dials it (`dial`). When the dialling side fails, the offer waits for a peer that will
 * not come: it is cancelled (best effort). A failure of one side usually fails the other too;
 * both are reported.
 */
async function bothSides(offer: Promise<unknown>, dial: () => Promise<unknown>, cancelOffer: () => Promise<unknown>, names: { offered: string; dialling: string }): Promise<void> {
  offer.catch(() => undefined);
  let dialError: unknown = null;
  try {
    await dial();
  } catch (error) {
    dialError = error;
    await cancelOffer().catch(() => undefined);
  }
  let offerError: unknown = null;
  try {
    await offer;
  } catch (error) {
    offerError = error;
  }
  if (!dialError && !offerError) return;
  const what = [dialError && `${names.dialling}: ${(dialError as Error).message}`, offerError && `${names.offered}: ${(offerError as Error).message}`].filter(Boolean).join('; ');
  const first = (dialError ?? offerError) as { status?: number; name?: string };
  if (first?.name === 'LxdUnavailableError') throw first;
  throw new LxdError(`the migration failed: ${what}`, { status: first?.status ?? 500, lxdCode: 0 });
}

/** LXD's migration API from Corral's pinned clients (LXD-NOTES section 8, "Raw API from Node"). */
export class LxdMigrationGateway implements MigrationNodes {
  constructor(private readonly lxd: Pick<LxdGateway, 'clientFor'>) {}

  async copyInstance(source: Node, target: Node, project: string, name: string, deadlineMs: number, mode: MigrationMode = MigrationMode.PULL): Promise<void> {
    const from = await this.lxd.clientFor(source);
    const to = await this.lxd.clientFor(target);
    const instance = await getInstance(from, project, name);
    if (!instance) throw new LxdError(`Instance not found: ${name}`, { status: 404 });
    if (instance.status !== 'Stopped') throw new LxdError(`instance ${name} is ${instance.status}; a cold migration needs it stopped`, { status: 400, lxdCode: 0 });
    if (await getInstance(to, project, name)) throw new LxdError(`instance ${name} already exists on node ${target.name}`, { status: 409 });

    if (mode === MigrationMode.PUSH) await pushInstance(from, to, project, instance, deadlineMs);
    else await pullInstance(from, to, project, instance, { targetName: name, instanceOnly: false, deadlineMs, targetNode: target.name });
    if (!(await getInstance(to, project, name))) throw new LxdError(`instance ${name} is missing on node ${target.name} after the migration`, { status: 500, lxdCode: 0 });
  }

  async removeInstance(node: Node, project: string, name: string): Promise<void> {
    await deleteInstance(await this.lxd.clientFor(node), project, name);
  }
}

/**
 * LXD migration in pull mode (LXD-NOTES section 8): the source offers `instance`, the target
 * creates `targetName` by dialling the source's operation websockets, authenticated by the
 * secrets. Without `live` the source may run (a stateless copy). Volatile keys (but
 * `volatile.base_image`) are left out, so the target gives the copy its own identity. Also used
 * by clones to another node (clone.gateway.ts).
 */
export async function pullInstance(
  from: LxdClient,
  to: LxdClient,
  project: string,
  instance: LxdInstance,
  options: { targetName: string; instanceOnly: boolean; deadlineMs: number; targetNode: string },
): Promise<void> {
  const { name } = instance;
  const { deadlineMs } = options;
  // 1. The source offers the instance: a websocket operation whose metadata holds the secrets.
  const offer = await from.request('POST', lxdPath`/1.0/instances/${name}`, { project, body: { migration: true, live: false, instance_only: options.instanceOnly } });
  if (offer.type !== 'async') throw new LxdError('the source did not start a migration operation', { status: 500, lxdCode: 0 });
  const sourceOp: LxdOperation = offer.operation;
  const secrets = Object.fromEntries(Object.entries(sourceOp.metadata).filter((e): e is [string, string] => typeof e[1] === 'string'));
  if (!secrets.control || !secrets.fs) throw new LxdError('the source migration operation carries no secrets', { status: 500, lxdCode: 0 });

  // 2. The target pulls it, authenticated by the secrets; it checks the source against its certificate.
  const baseImage = instance.config['volatile.base_image'];
  const body = {
    name: options.targetName,
    type: 'container',
    architecture: instance.architecture,
    profiles: instance.profiles,
    config: portableConfig(instance.config),
    devices: instance.devices,
    ephemeral: false,
    description: instance.description,
    source: {
      type: 'migration',
      mode: 'pull',
      operation: `${from.url}/1.0/operations/${sourceOp.id}`,
      certificate: await from.serverCertificate(),
      secrets,
      live: false,
      instance_only: options.instanceOnly,
      ...(baseImage ? { 'base-image': baseImage } : {}),
    },
  };
  const waitSource = from.wait(sourceOp, { project, timeoutMs: deadlineMs });
  // A failure of one side usually fails the other too; report both.
  waitSource.catch(() => undefined);
  let targetError: unknown = null;
  try {
    await to.operation('POST', lxdPath`/1.0/instances`, { project, body, waitMs: deadlineMs });
  } catch (error) {
    targetError = error;
    // The source waits for a peer that will not come: cancel its offer (best effort).
    await from.request('DELETE', lxdPath`/1.0/operations/${sourceOp.id}`).catch(() => undefined);
  }
  let sourceError: unknown = null;
  try {
    await waitSource;
  } catch (error) {
    sourceError = error;
  }
  if (targetError || sourceError) {
    const what = [targetError && `target: ${(targetError as Error).message}`, sourceError && `source: ${(sourceError as Error).message}`].filter(Boolean).join('; ');
    const first = (targetError ?? sourceError) as { status?: number; name?: string };
    if (first?.name === 'LxdUnavailableError') throw targetError ?? sourceError;
    throw new LxdError(`the migration failed: ${what}`, { status: first?.status ?? 500, lxdCode: 0 });
  }
  if (!(await getInstance(to, project, options.targetName))) throw new LxdError(`instance ${options.targetName} is missing on node ${options.targetNode} after the migration`, { status: 500, lxdCode: 0 });
}

/**
 * LXD migration in push mode (LXD-NOTES section 8): the target creates the instance from a
 * websocket operation of its own, whose metadata holds the secrets; the source dials it. For a
 * target that cannot reach the source. Same identity rules as {@link pullInstance}.
 */
async function pushInstance(from: LxdClient, to: LxdClient, project: string, instance: LxdInstance, deadlineMs: number): Promise<void> {
  const { name } = instance;
  const baseImage = instance.config['volatile.base_image'];
  // 1. The target waits for the instance.
  const sink = await to.request('POST', lxdPath`/1.0/instances`, {
    project,
    body: {
      name,
      type: 'container',
      architecture: instance.architecture,
      profiles: instance.profiles,
      config: portableConfig(instance.config),
      devices: instance.devices,
      ephemeral: false,
      description: instance.description,
      source: { type: 'migration', mode: 'push', live: false, instance_only: false, ...(baseImage ? { 'base-image': baseImage } : {}) },
    },
  });
  if (sink.type !== 'async') throw new LxdError('the target did not start a migration operation', { status: 500, lxdCode: 0 });
  const secrets = secretsOf(sink.operation, 'target');
  // 2. The source dials the target's operation websockets, authenticated by the secrets; it checks the target against its certificate.
  const body = { migration: true, live: false, instance_only: false, target: { operation: `${to.url}/1.0/operations/${sink.operation.id}`, certificate: await to.serverCertificate(), secrets } };
  await bothSides(
    to.wait(sink.operation, { project, timeoutMs: deadlineMs }),
    () => from.operation('POST', lxdPath`/1.0/instances/${name}`, { project, body, waitMs: deadlineMs }),
    () => to.request('DELETE', lxdPath`/1.0/operations/${sink.operation.id}`),
    { offered: 'target', dialling: 'source' },
  );
}

/** Test doubles of the node gateway (test/support/fake-gateway.ts) may migrate themselves. */
function migrates(gateway: NodeGateway): gateway is NodeGateway & MigrationNodes {
  return typeof (gateway as Partial<MigrationNodes>).copyInstance === 'function';
}

/** The migration side of a node gateway: LXD's migration API for the real one, the double's own for a fake. */
export function migrationNodesFor(gateway: NodeGateway): MigrationNodes {
  if (gateway instanceof LxdGateway) return new LxdMigrationGateway(gateway);
  if (migrates(gateway)) return gateway;
  const unsupported = async (): Promise<never> => {
    throw new LxdError('this node gateway cannot migrate containers', { status: 501, lxdCode: 0 });
  };
  return { copyInstance: unsupported, removeInstance: unsupported };
}
