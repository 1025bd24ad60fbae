import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateLicenceKeyPair, issueLicence } from '../../server/licences/licence-document';
import { Caller } from '../support/client';
import { createAccount, createProject, PASSWORD, signInAsAdmin, signInAsNewUser, unique } from '../support/factories';
import { corralInstances, eventually, lxc, requireLab, type LabNode } from '../support/lab';
import type { CorralProcess } from '../support/process';
import { startReplicas, type Replicas } from '../support/replicas';

const CONTAINER = `id name status operation { id state action errorCode }`;

interface Claim {
  operation: string;
  owner: string;
  recovering: boolean;
}

/** The runner's "operation claimed" lines in a replica's log. */
function claims(replica: CorralProcess): Claim[] {
  return replica
    .output()
    .split('\n')
    .filter((line) => line.includes('"operation claimed"'))
    .map((line) => JSON.parse(line) as Claim);
}

/**
 * Two real Corral processes on one PostgreSQL database, one Redis and the real lab nodes. Each
 * operation is claimed (its lease taken in the database) by exactly one runner, the work happens
 * once on the node, and a replica that dies has its operations taken over, once, by another.
 */
describe('two replicas share the workers: no operation runs twice', () => {
  let replicas: Replicas;
  let nodes: LabNode[];
  let a: { process: CorralProcess; url: string };
  let b: { process: CorralProcess; url: string };
  let ownerA: Caller;
  let ownerB: Caller;
  let ownerEmail: string;
  let projectId: string;
  let lxdProject: string;
  let imageId: string;
  const licenceKeys = generateLicenceKeyPair();

  before(async () => {
    const lab = await requireLab();
    nodes = lab.nodes.slice(0, 2);
    const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
    fs.copyFileSync(lab.busybox, path.join(imageDir, 'busybox.tar.gz'));
    replicas = await startReplicas({ CORRAL_IMAGE_DIR: imageDir, CORRAL_LICENCE_PUBLIC_KEY: licenceKeys.publicKey, CORRAL_OPERATION_LEASE_SECONDS: '3' });
    a = await replicas.start();
    b = await replicas.start();
    const admin = await signInAsAdmin(a.url);
    await admin.ok(`mutation($l: String!) { installLicence(licence: $l) { licensee } }`, {
      l: issueLicence({ licensee: 'Lab', maxNodes: 10, maxContainers: 1000, expiresAt: '2099-01-01T00:00:00Z' }, licenceKeys.privateKey),
    });
    imageId = (await admin.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'busybox').node.id;
    const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "replicas" }) { id } }`)).createCluster.id;
    for (const node of nodes) {
      await admin.ok(`mutation($i: AddNodeInput!) { addNode(input: $i) { id } }`, { i: { clusterId, name: node.name, url: node.lxd.url, secret: node.lxd.trustPassword } });
    }
    const customer = await createAccount(admin, 'CUSTOMER');
    const signedIn = await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER');
    ownerA = signedIn.caller;
    ownerEmail = signedIn.user.email;
    ownerB = await new Caller(b.url).login(ownerEmail, PASSWORD);
    projectId = (await createProject(ownerA, customer.id)).id;
    lxdProject = `corral-${projectId.replaceAll('-', '')}`;
  });
  after(async () => {
    await replicas?.stop();
    for (const node of nodes ?? []) {
      for (const key of (await corralInstances(node)).keys()) {
        const [project, name] = key.split('/');
        if (project === lxdProject) await lxc(node, 'delete', '--force', '--project', project, name!);
      }
    }
  });

  const create = (caller: Caller, name: string, key?: string) =>
    caller.gql(`mutation($i: CreateContainerInput!, $k: String) { createContainer(input: $i, idempotencyKey: $k) { ${CONTAINER} } }`, {
      i: { projectId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
      k: key,
    });
  const operation = async (caller: Caller, id: string) => (await caller.ok(`query($id: ID!) { operation(id: $id) { id state errorCode errorMessage } }`, { id })).operation;
  const ended = (caller: Caller, id: string) =>
    eventually(`operation ${id} to end`, async () => {
      const op = await operation(caller, id);
      return op.state === 'SUCCEEDED' || op.state === 'FAILED' ? op : null;
    }, 90_000);
  /** Instance names of the test's project on the nodes, each as often as it exists. */
  const onNodes = async () =>
    (await Promise.all(nodes.map(async (node) => [...(await corralInstances(node)).keys()])))
      .flat()
      .filter((k) => k.startsWith(`${lxdProject}/`))
      .map((k) => k.split('/')[1]!)
      .sort();
  const rows = async () =>
    ((await ownerB.ok(`query($p: ID!) { containers(projectId: $p) { edges { node { name status } } } }`, { p: projectId })).containers.edges as { node: { name: string; status: string } }[])
      .map((e) => e.node)
      .sort((x, y) => x.name.localeCompare(y.name));

  test('creates sent to A and B alternately each run once, on the replica that took them, and exist once on the nodes', async () => {
    const names = Array.from({ length: 6 }, (_, i) => unique(`rep${i}`));
    const answers = await Promise.all(names.map((name, i) => create(i % 2 ? ownerB : ownerA, name)));
    const ops: string[] = answers.map((res) => {
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      return res.data!.createContainer.operation.id as string;
    });
    for (const id of ops) {
      const op = await ended(ownerA, id);
      assert.equal(op.state, 'SUCCEEDED', `${JSON.stringify(op)}\nA: ${a.process.output().split('\n').filter((l) => l.includes(id)).join('\n')}\nB: ${b.process.output().split('\n').filter((l) => l.includes(id)).join('\n')}`);
    }

    const all = [...claims(a.process), ...claims(b.process)];
    for (const id of ops) assert.equal(all.filter((c) => c.operation === id).length, 1, `claims of ${id}: ${JSON.stringify(all.filter((c) => c.operation === id))}`);
    const owners = new Set(all.filter((c) => ops.includes(c.operation)).map((c) => c.owner));
    assert.ok(owners.size >= 1 && owners.size <= 2);
    assert.deepEqual(await onNodes(), [...names].sort());
    assert.deepEqual((await rows()).filter((r) => names.includes(r.name)).map((r) => r.status), names.map(() => 'RUNNING'));
    console.log(`# ${ops.length} creates: ${claims(a.process).filter((c) => ops.includes(c.operation)).length} claimed by A, ${claims(b.process).filter((c) => ops.includes(c.operation)).length} by B`);
  });

  test('the same idempotent create sent to A and B at once makes one container and one operation', async () => {
    const name = unique('twice');
    const key = unique('key');
    const [first, second] = await Promise.all([create(ownerA, name, key), create(ownerB, name, key)]);
    const answered = [first, second].filter((res) => !res.errors).map((res) => res.data!.createContainer);
    assert.ok(answered.length >= 1, JSON.stringify([first.errors, second.errors]));
    // The loser of the race either replays the winner or is told it lost (CONFLICT), never a second container.
    for (const res of [first, second]) {
      if (res.errors) assert.equal(res.errors[0]?.extensions?.code, 'CONFLICT', JSON.stringify(res.errors));
    }
    assert.equal(new Set(answered.map((c) => c.id)).size, 1);
    assert.equal(new Set(answered.map((c) => c.operation.id)).size, 1);
    const op = answered[0]!.operation.id as string;
    assert.equal((await ended(ownerA, op)).state, 'SUCCEEDED');
    // Asked again on either replica, the same key replays the one container.
    for (const caller of [ownerA, ownerB]) {
      const again = await create(caller, name, key);
      assert.equal(again.data?.createContainer?.id, answered[0]!.id, JSON.stringify(again.errors));
    }
    const all = [...claims(a.process), ...claims(b.process)];
    assert.equal(all.filter((c) => c.operation === op).length, 1);
    assert.equal((await onNodes()).filter((n) => n === name).length, 1);
  });

  test('when A dies mid-work, its operations are taken over once by the replicas still running, and nothing is doubled', async () => {
    const names = Array.from({ length: 4 }, (_, i) => unique(`orphan${i}`));
    const answers = await Promise.all(names.map((name) => create(ownerA, name)));
    const ops = answers.map((res) => {
      assert.equal(res.errors, undefined, JSON.stringify(res.errors));
      return res.data!.createContainer.operation.id as string;
    });
    a.process.child.kill('SIGKILL');
    await a.process.exited;
    // A second replica comes back while B is already sweeping: both race for A's expired leases.
    const a2 = await replicas.start();
    for (const id of ops) {
      const op = await ended(ownerB, id);
      if (op.state === 'FAILED') assert.equal(op.errorCode, 'INTERRUPTED');
    }
    const byB = claims(b.process);
    const after = [...claims(a2.process), ...byB];
    for (const id of ops) assert.ok(after.filter((c) => c.operation === id).length <= 1, `claims of ${id} after the kill: ${JSON.stringify(after.filter((c) => c.operation === id))}`);
    const finishedRows = (await rows()).filter((r) => names.includes(r.name));
    assert.ok(finishedRows.every((r) => r.status === 'RUNNING'), JSON.stringify(finishedRows));
    assert.deepEqual((await onNodes()).filter((n) => names.includes(n)), finishedRows.map((r) => r.name).sort());
    const taken = after.filter((c) => ops.includes(c.operation));
    console.log(`# A killed with ${ops.length} creates under way: ${taken.length} taken over (${taken.filter((c) => byB.includes(c)).length} by B), ${finishedRows.length} finished (each exists once on the nodes), ${ops.length - finishedRows.length} cleanly undone`);
  });
});
