import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Caller } from '../support/client';
import { createAccount, createProject, signInAsNewUser } from '../support/factories';
import { corralInstances, eventually, requireLab, type LabNode } from '../support/lab';
import { spawnCorral, type CorralProcess } from '../support/process';

const ADMIN = { email: 'crash@example.test', password: 'a long admin password' };

/**
 * Kill Corral with SIGKILL in the middle of a create, start it again, and check the promise:
 * the operation ends (finished or cleanly failed) and rows and instances match exactly.
 */
describe('SIGKILL in the middle of creating a container', () => {
  let nodes: LabNode[];
  let env: Record<string, string>;
  let corral: CorralProcess | undefined;
  before(async () => {
    const lab = await requireLab();
    nodes = lab.nodes;
    const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
    fs.copyFileSync(lab.busybox, path.join(imageDir, 'busybox.tar.gz'));
    env = {
      CORRAL_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-crash-')),
      CORRAL_IMAGE_DIR: imageDir,
      CORRAL_ADMIN_EMAIL: ADMIN.email,
      CORRAL_ADMIN_PASSWORD: ADMIN.password,
      CORRAL_OPERATION_LEASE_SECONDS: '3',
      LOG_LEVEL: 'info',
    };
  });
  after(async () => {
    corral?.child.kill('SIGKILL');
  });

  async function boot() {
    corral = spawnCorral(env);
    return corral.url();
  }

  test('after a restart each interrupted create is finished or undone, and no instance lacks its row nor row its instance', async () => {
    let url = await boot();
    const admin = await new Caller(url).login(ADMIN.email, ADMIN.password);
    const imageId = (await admin.ok(`{ images { edges { node { id } } } }`)).images.edges[0].node.id;
    const clusterId = (await admin.ok(`mutation { createCluster(input: { name: "crash" }) { id } }`)).createCluster.id;
    for (const node of nodes.slice(0, 2)) {
      await admin.ok(`mutation($i: AddNodeInput!) { addNode(input: $i) { id } }`, { i: { clusterId, name: node.name, url: node.lxd.url, secret: node.lxd.trustPassword } });
    }
    const customer = await createAccount(admin, 'CUSTOMER');
    const { user } = await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER');
    let owner = await new Caller(url).login(user.email, 'a long test password');
    const projectId = (await createProject(owner, customer.id)).id;
    const lxdProject = `corral-${projectId.replaceAll('-', '')}`;

    // Two moments to die at: right after the mutation answered, and in the middle of the node work.
    const moments: ((opId: string) => Promise<void>)[] = [
      async () => undefined,
      async (opId) => {
        await eventually('the create to be under way on the node', async () => {
          const op = (await owner.ok(`query($id: ID!) { operation(id: $id) { state progress } }`, { id: opId })).operation;
          return op.state === 'RUNNING' && op.progress >= 10;
        }, 20_000);
      },
    ];
    const operations: string[] = [];
    for (const [i, moment] of moments.entries()) {
      const created = await owner.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
        i: { projectId, name: `crash-${i}`, imageId, cpu: 1, memoryMiB: 64, diskMiB: 128 },
      });
      operations.push(created.createContainer.operation.id);
      await moment(created.createContainer.operation.id);
      corral!.child.kill('SIGKILL');
      await corral!.exited;

      url = await boot();
      owner = await new Caller(url).login(user.email, 'a long test password');
    }

    for (const id of operations) {
      const op = await eventually(`operation ${id} to end`, async () => {
        const o = (await owner.ok(`query($id: ID!) { operation(id: $id) { state errorCode } }`, { id })).operation;
        return o.state === 'SUCCEEDED' || o.state === 'FAILED' ? o : null;
      }, 60_000);
      if (op.state === 'FAILED') assert.equal(op.errorCode, 'INTERRUPTED');
    }
    const rows = (await owner.ok(`query($p: ID!) { containers(projectId: $p) { edges { node { name status } } } }`, { p: projectId })).containers.edges.map((e: any) => e.node);
    assert.ok(rows.every((r: any) => r.status === 'RUNNING'), JSON.stringify(rows));
    const onNodes = [...(await corralInstances(nodes[0]!)).keys(), ...(await corralInstances(nodes[1]!)).keys()]
      .filter((k) => k.startsWith(`${lxdProject}/`))
      .map((k) => k.split('/')[1])
      .sort();
    assert.deepEqual(onNodes, rows.map((r: any) => r.name).sort());
    console.log(`# after two SIGKILLs: ${rows.length} of 2 creates finished, ${2 - rows.length} cleanly undone`);
  });
});
