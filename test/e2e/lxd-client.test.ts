/**
 * The LXD client against a real LXD daemon: node 1 of the lab by default
 * (`npm run lab -- up`; its nodes are set up through connectNode first), or any daemon named by CORRAL_E2E_LXD_URL,
 * CORRAL_E2E_LXD_PASSWORD (its core.trust_password) and CORRAL_E2E_BUSYBOX (a unified busybox
 * image tarball). Everything the suite creates on the daemon is removed afterwards, including
 * its own trust entries.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { LxdClient, lxdPath, type LxdOperation } from '../../server/lxd/client';
import { LxdError, LxdOperationTimeoutError, LxdUnavailableError, isConflict } from '../../server/lxd/errors';
import { instanceNameOf, lifecycleOf, operationOf, watchEvents, type LxdEvent } from '../../server/lxd/events';
import { fingerprintOf, generateClientIdentity, type ClientIdentity } from '../../server/lxd/identity';
import { deleteImage, getImage, sha256OfFile, uploadImage } from '../../server/lxd/images';
import { createInstance, deleteInstance, getInstance, getInstanceState, listInstances, setInstanceState } from '../../server/lxd/instances';
import { deleteProject, ensureProject, getProject } from '../../server/lxd/projects';
import { getResources, getServer } from '../../server/lxd/server';
import { connectLab } from '../support/lab-connect';

const LXD_URL = process.env.CORRAL_E2E_LXD_URL ?? 'https://198.18.0.11:8443';
const LXD_PASSWORD = process.env.CORRAL_E2E_LXD_PASSWORD ?? 'corral-lab';
const BUSYBOX = process.env.CORRAL_E2E_BUSYBOX ?? '/var/cache/corral-lab/images/busybox.tar.gz';
const LAB_HINT = 'run "npm run lab -- up" (as root), or set CORRAL_E2E_LXD_URL / CORRAL_E2E_LXD_PASSWORD / CORRAL_E2E_BUSYBOX';

const run = randomBytes(3).toString('hex');
const unique = (what: string) => `lxdc-${what}-${run}`;
const WRONG_FINGERPRINT = '0f'.repeat(32);

/** Resolves with the first event matching, or rejects after `ms` naming what it waited for. */
class EventLog {
  readonly events: LxdEvent[] = [];
  private waiters: { match: (e: LxdEvent) => boolean; resolve: (e: LxdEvent) => void }[] = [];

  push = (event: LxdEvent) => {
    this.events.push(event);
    for (const w of [...this.waiters]) {
      if (w.match(event)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
  };

  next(what: string, match: (e: LxdEvent) => boolean, ms = 20_000): Promise<LxdEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} event within ${ms} ms`)), ms);
      this.waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }
}

const lifecycleFor = (project: string, name: string) => (e: LxdEvent) => {
  const l = lifecycleOf(e);
  return l !== null && e.project === project && instanceNameOf(l.source) === name;
};

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected a rejection');
}

async function unavailable(promise: Promise<unknown>): Promise<LxdUnavailableError> {
  const error = await rejection(promise);
  assert.ok(error instanceof LxdUnavailableError, `expected LxdUnavailableError, got ${String(error)}`);
  return error;
}

test('a node that accepts connections but never answers times out as LxdUnavailableError', async () => {
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as AddressInfo;
  const identity = await generateClientIdentity(unique('timeout'));
  const client = new LxdClient({ url: `https://127.0.0.1:${port}`, fingerprint: WRONG_FINGERPRINT }, identity, { requestTimeoutMs: 1_000 });
  try {
    const started = Date.now();
    const error = await unavailable(getServer(client));
    assert.equal(error.reason, 'timeout');
    assert.ok(Date.now() - started < 5_000);
  } finally {
    await client.close();
    silent.close();
  }
});

describe('the LXD client against a real LXD daemon', () => {
  let identity: ClientIdentity;
  let enrolled: { serverCertificate: string; fingerprint: string };
  let client: LxdClient;
  let imageFingerprint: string;
  let imageWasThere = false;
  const project = unique('project');
  const extraIdentities: string[] = [];
  const extraClients: LxdClient[] = [];

  before(async () => {
    if (!existsSync(BUSYBOX)) throw new Error(`the busybox image ${BUSYBOX} is missing: ${LAB_HINT}`);
    // On the lab, LXD runs once the nodes were set up through connectNode (a no-op when they were).
    if (!process.env.CORRAL_E2E_LXD_URL) await connectLab();
    identity = await generateClientIdentity(unique('client'));
    try {
      enrolled = await LxdClient.enrol(LXD_URL, identity, LXD_PASSWORD, { requestTimeoutMs: 10_000 });
    } catch (e) {
      if (e instanceof LxdUnavailableError) throw new Error(`LXD at ${LXD_URL} is unreachable (${e.message}): ${LAB_HINT}`, { cause: e });
      throw e;
    }
    client = new LxdClient({ url: LXD_URL, serverCertificate: enrolled.serverCertificate }, identity);
    const local = await sha256OfFile(BUSYBOX);
    imageWasThere = (await getImage(client, local)) !== null;
    imageFingerprint = await uploadImage(client, BUSYBOX);
    await ensureProject(client, project, { config: { 'features.images': 'false', 'features.profiles': 'true' }, rootDisk: { pool: 'default' } });
  });

  after(async () => {
    if (!client) return;
    try {
      for (const i of await listInstances(client, project).catch(() => [])) await deleteInstance(client, project, i.name);
      await deleteProject(client, project);
      if (imageFingerprint && !imageWasThere) await deleteImage(client, imageFingerprint);
      for (const fp of extraIdentities) await client.sync('DELETE', lxdPath`/1.0/certificates/${fp}`).catch(() => undefined);
      // Last: this suite's own trust entry.
      await client.sync('DELETE', lxdPath`/1.0/certificates/${fingerprintOf(identity.certificate)}`);
    } finally {
      await Promise.allSettled([client.close(), ...extraClients.map((c) => c.close())]);
    }
  });

  const extra = (c: LxdClient) => (extraClients.push(c), c);

  test('enrolment with the trust password pins the certificate the node presents, and is idempotent', async () => {
    assert.match(enrolled.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(fingerprintOf(enrolled.serverCertificate), enrolled.fingerprint);
    const server = await getServer(client);
    assert.equal(server.auth, 'trusted');
    assert.equal(server.environment?.certificateFingerprint, enrolled.fingerprint);
    assert.ok(server.apiExtensions.includes('projects') && server.apiExtensions.includes('instances'));
    // Enrolling again: LXD says "already trusted", which counts as success.
    assert.deepEqual(await LxdClient.enrol(LXD_URL, identity, LXD_PASSWORD), enrolled);
    // Pinned by fingerprint only, the client learns the PEM through the pinned connection.
    const byFingerprint = extra(new LxdClient({ url: LXD_URL, fingerprint: enrolled.fingerprint }, identity));
    assert.equal(await byFingerprint.serverCertificate(), enrolled.serverCertificate);
  });

  test('a wrong trust password is refused by LXD with 403', async () => {
    const stranger = await generateClientIdentity(unique('stranger'));
    const error = await rejection(LxdClient.enrol(LXD_URL, stranger, 'not-the-password'));
    assert.ok(error instanceof LxdError);
    assert.equal(error.status, 403);
  });

  test('a client pinned to a wrong fingerprint is refused before any request reaches LXD', async () => {
    const probe = unique('never');
    const byFingerprint = extra(new LxdClient({ url: LXD_URL, fingerprint: WRONG_FINGERPRINT }, identity));
    assert.equal((await unavailable(getServer(byFingerprint))).reason, 'pin-mismatch');
    assert.equal((await unavailable(ensureProject(byFingerprint, probe))).reason, 'pin-mismatch');
    // The right CA with a wrong fingerprint: the chain verifies, the pin still refuses.
    const rightCaWrongPin = extra(new LxdClient({ url: LXD_URL, serverCertificate: enrolled.serverCertificate, fingerprint: WRONG_FINGERPRINT }, identity));
    assert.equal((await unavailable(ensureProject(rightCaWrongPin, probe))).reason, 'pin-mismatch');
    // Another certificate as the pin: the TLS chain itself fails.
    const otherPem = (await generateClientIdentity('impostor')).certificate;
    const wrongCa = extra(new LxdClient({ url: LXD_URL, serverCertificate: otherPem }, identity));
    assert.equal((await unavailable(getServer(wrongCa))).reason, 'tls');
    // The event stream is pinned the same way.
    const watch = watchEvents(rightCaWrongPin, { types: ['lifecycle'], allProjects: true }, () => undefined, () => undefined);
    assert.equal((await unavailable(watch.ready)).reason, 'pin-mismatch');
    watch.close();
    assert.equal(await getProject(client, probe), null, 'none of the refused requests created anything');
  });

  test('enrolment with a trust token pins the token\'s fingerprint from the first byte', async () => {
    const tokenFor = async (name: string) => {
      const reply = await client.request('POST', lxdPath`/1.0/certificates`, { body: { name, type: 'client', token: true } });
      assert.equal(reply.type, 'async');
      const op = (reply as { operation: LxdOperation }).operation;
      const m = op.metadata as { fingerprint: string; addresses: string[]; secret: string };
      const token = (fingerprint: string) =>
        Buffer.from(JSON.stringify({ client_name: name, fingerprint, addresses: m.addresses, secret: m.secret, expires_at: '0001-01-01T00:00:00Z' })).toString('base64');
      return { op, fingerprint: m.fingerprint, token };
    };
    const issued = await tokenFor(unique('token'));
    assert.equal(issued.fingerprint, enrolled.fingerprint, 'the token carries the server certificate fingerprint');
    const second = await generateClientIdentity(unique('token-client'));
    extraIdentities.push(fingerprintOf(second.certificate));

    // A token naming another server fingerprint: refused at the TLS layer, so its secret is never sent…
    assert.equal((await unavailable(LxdClient.enrol(LXD_URL, second, issued.token(WRONG_FINGERPRINT)))).reason, 'pin-mismatch');
    // …which is why the same secret still works afterwards (tokens are single-use).
    const viaToken = await LxdClient.enrol(LXD_URL, second, issued.token(issued.fingerprint));
    assert.deepEqual(viaToken, enrolled);
    const secondClient = extra(new LxdClient({ url: LXD_URL, serverCertificate: viaToken.serverCertificate }, second));
    assert.equal((await getServer(secondClient)).auth, 'trusted');
  });

  test('waits are bounded: a running operation ends the wait at the deadline, an unknown one is "gone"', async () => {
    // A trust token's operation runs until the token is used: a safe operation that never finishes by itself.
    const reply = await client.request('POST', lxdPath`/1.0/certificates`, { body: { name: unique('wait'), type: 'client', token: true } });
    assert.equal(reply.type, 'async');
    const op = (reply as { operation: LxdOperation }).operation;
    try {
      const started = Date.now();
      const error = await rejection(client.wait(op, { timeoutMs: 1_500 }));
      const took = Date.now() - started;
      assert.ok(error instanceof LxdOperationTimeoutError, String(error));
      assert.equal(error.operationId, op.id);
      assert.ok(took >= 1_400 && took < 5_000, `the wait took ${took} ms`);
    } finally {
      await client.sync('DELETE', lxdPath`/1.0/operations/${op.id}`);
    }
    assert.deepEqual(await client.wait('00000000-0000-0000-0000-000000000000', { timeoutMs: 5_000 }), {
      kind: 'gone',
      operationId: '00000000-0000-0000-0000-000000000000',
    });
  });

  test('an image upload is idempotent: the same tarball gives the same fingerprint without a second upload', async () => {
    assert.equal(imageFingerprint, await sha256OfFile(BUSYBOX));
    const image = await getImage(client, imageFingerprint);
    assert.ok(image);
    assert.equal(image.fingerprint, imageFingerprint);
    assert.equal(await uploadImage(client, BUSYBOX), imageFingerprint);
    assert.equal(await getImage(client, WRONG_FINGERPRINT), null);
    await deleteImage(client, WRONG_FINGERPRINT); // missing counts as deleted
  });

  test('ensureProject creates once and gives a profile-owning project a root disk on the pool', async () => {
    const again = await ensureProject(client, project, { config: { 'features.images': 'false', 'features.profiles': 'true' } });
    assert.equal(again.created, false);
    assert.equal(again.project.config['features.profiles'], 'true');
    const { metadata, etag } = await client.sync('GET', lxdPath`/1.0/profiles/${'default'}`, { project });
    const devices = (metadata as { devices: Record<string, Record<string, string>> }).devices;
    assert.deepEqual(devices['root'], { type: 'disk', path: '/', pool: 'default' });
    // A third call changes nothing on the node.
    await ensureProject(client, project, { rootDisk: { pool: 'default' } });
    assert.equal((await client.sync('GET', lxdPath`/1.0/profiles/${'default'}`, { project })).etag, etag);
  });

  test('an instance goes through create, start, start again, stop and delete, and the events say so', { timeout: 120_000 }, async () => {
    const name = unique('c');
    const log = new EventLog();
    let streamClosed: (error: Error | undefined) => void = () => undefined;
    const closed = new Promise<Error | undefined>((resolve) => (streamClosed = resolve));
    let closedEarly = false;
    const watch = watchEvents(client, { types: ['lifecycle', 'operation'], allProjects: true }, log.push, (e) => {
      closedEarly = true;
      streamClosed(e);
    });
    await watch.ready;
    try {
      const created = await createInstance(client, project, { name, source: { type: 'image', fingerprint: imageFingerprint }, config: { 'user.corral': 'e2e' } });
      assert.equal(created.name, name);
      assert.equal(created.project, project);
      assert.equal(created.status, 'Stopped');
      assert.equal(created.config['user.corral'], 'e2e');
      assert.equal(created.expandedDevices['root']?.['pool'], 'default', 'root disk from the project profile');

      assert.equal(await setInstanceState(client, project, name, { action: 'start' }), 'Running');
      assert.equal((await getInstanceState(client, project, name))?.status, 'Running');
      assert.equal(await setInstanceState(client, project, name, { action: 'start' }), 'Running', 'start on a running instance is a no-op');

      const listed = await listInstances(client, { allProjects: true });
      const row = listed.find((i) => i.project === project && i.name === name);
      assert.equal(row?.status, 'Running');
      assert.ok(row?.location);
      assert.deepEqual((await listInstances(client, project)).map((i) => i.name), [name]);

      assert.equal(await setInstanceState(client, project, name, { action: 'stop', timeout: 30 }), 'Stopped');
      assert.equal((await getInstance(client, project, name))?.status, 'Stopped');
      assert.equal(await setInstanceState(client, project, name, { action: 'stop' }), 'Stopped', 'stop on a stopped instance is a no-op');

      await deleteInstance(client, project, name);
      assert.equal(await getInstance(client, project, name), null);
      assert.equal(await getInstanceState(client, project, name), null);
      await deleteInstance(client, project, name); // already gone: done

      await log.next('instance-deleted', (e) => lifecycleFor(project, name)(e) && lifecycleOf(e)?.action === 'instance-deleted');
      const actions = log.events.filter(lifecycleFor(project, name)).map((e) => lifecycleOf(e)?.action);
      // A clean stop through the API is reported as instance-shutdown, a forced one as instance-stopped.
      assert.deepEqual(actions, ['instance-created', 'instance-started', 'instance-shutdown', 'instance-deleted']);
      const createOp = log.events
        .map(operationOf)
        .find((op) => op?.description === 'Creating instance' && op.statusCode === 200 && op.resources['instances']?.some((r) => r.startsWith(`/1.0/instances/${name}`)));
      assert.ok(createOp, 'the create operation was followed to Success');
      assert.equal(closedEarly, false, 'the stream stayed open');
    } finally {
      watch.close();
    }
    assert.equal(await closed, undefined, 'closing the watcher reports no error');
  });

  test('deleting a running instance stops it first', { timeout: 60_000 }, async () => {
    const name = unique('r');
    await createInstance(client, project, { name, source: { type: 'image', fingerprint: imageFingerprint } });
    await setInstanceState(client, project, name, { action: 'start' });
    await deleteInstance(client, project, name);
    assert.equal(await getInstance(client, project, name), null);
  });

  test('a failing operation is an LxdError with status 400, not a silent success', { timeout: 60_000 }, async () => {
    const name = unique('dup');
    await createInstance(client, project, { name, source: { type: 'image', fingerprint: imageFingerprint } });
    try {
      const error = await rejection(createInstance(client, project, { name, source: { type: 'image', fingerprint: imageFingerprint } }));
      assert.ok(error instanceof LxdError, String(error));
      assert.equal(error.status, 400);
      assert.ok(error.operationId, 'the failure came from the operation');
      assert.match(error.message, /already exists/);
      assert.ok(isConflict(error));
      // A restart of a stopped instance fails in the operation too, and is not mistaken for success.
      const restart = await rejection(setInstanceState(client, project, name, { action: 'restart' }));
      assert.ok(restart instanceof LxdError);
      assert.equal(restart.status, 400);
    } finally {
      await deleteInstance(client, project, name);
    }
  });

  test('a synchronous refusal keeps LXD\'s status and code', async () => {
    const error = await rejection(createInstance(client, project, { name: unique('x'), source: { type: 'image', alias: unique('no-such-alias') } }));
    assert.ok(error instanceof LxdError);
    assert.equal(error.status, 404);
    assert.equal(error.lxdCode, 404);
    assert.equal(error.operationId, undefined);
  });

  test('resources are plausible numbers', async () => {
    const r = await getResources(client);
    assert.ok(Number.isInteger(r.cpu.threads) && r.cpu.threads >= 1, `threads ${r.cpu.threads}`);
    assert.ok(r.memory.total > 64 * 2 ** 20 && r.memory.used > 0 && r.memory.used <= r.memory.total, JSON.stringify(r.memory));
    assert.equal(r.storage.pool, 'default');
    assert.ok(r.storage.total > 0 && r.storage.used >= 0 && r.storage.used <= r.storage.total, JSON.stringify(r.storage));
    // LXD 5.0.2 answers a missing pool's resources with 500, not 404; the client keeps that.
    const missing = await rejection(getResources(client, { pool: unique('no-pool') }));
    assert.ok(missing instanceof LxdError, String(missing));
    assert.match(missing.message, /Storage pool not found/);
  });
});
