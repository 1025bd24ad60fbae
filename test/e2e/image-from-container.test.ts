import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Caller, codeOf, type GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { corralInstances, eventually, type LabNode, lxc, settledContainer } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const CONTAINER = `id name status operation { id action state progress step errorCode errorMessage }`;
const OPERATION = `id action state progress step errorCode errorMessage containerId image { id name fingerprint sizeBytes }`;
const CREATE_IMAGE = `mutation($i: CreateImageFromContainerInput!, $k: String) { createImageFromContainer(input: $i, idempotencyKey: $k) { ${OPERATION} } }`;

/** An image made from a running container on one lab node, used for a new container on the other. */
describe('image from a container on real LXD nodes', () => {
  let nodes: LabNode[];
  let owner: Caller;
  let admin: Caller;
  let projectId: string;
  let lxdProject: string;
  let imageId: string;
  let lab: LabCorral;
  /** Fingerprints to remove from the nodes' image stores afterwards. */
  const made: string[] = [];

  before(async () => {
    lab = await startLabCorral();
    ({ nodes, owner, admin, projectId, lxdProject } = lab);
    imageId = lab.imageIds.busybox!;
  });
  after(async () => {
    await lab?.stop();
    for (const node of nodes ?? []) for (const fingerprint of made) await lxc(node, 'image', 'delete', fingerprint).catch(() => undefined);
  });

  const read = async (id: string) => (await admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} node { name } } }`, { id })).container;
  const settled = (res: GqlResponse, ms = 180_000) => settledContainer(read, res, ms);
  const finished = (id: string, ms = 300_000) =>
    eventually(`operation ${id} to finish`, async () => {
      const op = (await admin.ok(`query($id: ID!) { operation(id: $id) { ${OPERATION} } }`, { id })).operation;
      return ['SUCCEEDED', 'FAILED'].includes(op.state) ? op : null;
    }, ms);
  const sh = (node: LabNode, name: string, script: string) => lxc(node, 'exec', '--project', lxdProject, name, '--', 'sh', '-c', script);
  const statusOn = async (node: LabNode, name: string) => (await corralInstances(node)).get(`${lxdProject}/${name}`) ?? null;
  const pidOn = async (node: LabNode, name: string) => JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/state?project=${lxdProject}`)).pid as number;
  const snapshotsOn = async (node: LabNode, name: string) => JSON.parse(await lxc(node, 'query', `/1.0/instances/${name}/snapshots?project=${lxdProject}`)) as string[];
  const imagesOn = async (node: LabNode) => (JSON.parse(await lxc(node, 'query', '/1.0/images')) as string[]).map((p) => p.split('/').pop()!);

  test('a running container becomes an image (through a snapshot, it keeps running) that makes a new container on the other node with its data', async () => {
    const name = unique('golden');
    const source = await settled(await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 256 } }));
    assert.equal(source.status, 'RUNNING', JSON.stringify(source.operation));
    const home = nodes.find((n) => n.name === source.node.name)!;
    const other = nodes.find((n) => n !== home)!;
    await sh(home, name, 'mkdir -p /srv && echo from-the-golden-container > /srv/proof && sync');
    const pid = await pidOn(home, name);
    const otherImagesBefore = await imagesOn(other);

    // Tenants cannot: every tenant sees the catalogue.
    const refused = await owner.gql(CREATE_IMAGE, { i: { containerId: source.id, name: 'tenant-image' } });
    assert.equal(codeOf(refused), 'FORBIDDEN', JSON.stringify(refused.errors));

    const imageName = unique('img').toLowerCase();
    const started = Date.now();
    const res = await admin.gql(CREATE_IMAGE, { i: { containerId: source.id, name: imageName }, k: `image-${imageName}` });
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.equal(res.data!.createImageFromContainer.action, 'container.createImage');
    assert.equal(res.data!.createImageFromContainer.containerId, source.id);
    // While it runs, the container is busy for other operations.
    const op = await finished(res.data!.createImageFromContainer.id);
    console.log(`# createImageFromContainer (running busybox) to SUCCEEDED took ${Date.now() - started} ms`);
    assert.equal(op.state, 'SUCCEEDED', JSON.stringify(op));
    assert.equal(op.image?.name, imageName, JSON.stringify(op));
    made.push(op.image.fingerprint);

    // The source kept running, untouched, and the publishing snapshot is gone.
    assert.equal(await statusOn(home, name), 'Running');
    assert.equal(await pidOn(home, name), pid, 'the source was not restarted');
    assert.deepEqual(await snapshotsOn(home, name), [], 'the snapshot was deleted');
    assert.equal((await read(source.id)).status, 'RUNNING');

    // In the repository: the tarball is the image LXD made (its SHA-256 is the fingerprint), and the catalogue lists it.
    const [{ path: file }] = await lab.server.db.query(`SELECT path FROM images WHERE id = ?`, [op.image.id]);
    assert.equal(path.basename(file), `${imageName}.tar.gz`);
    assert.equal(createHash('sha256').update(fs.readFileSync(file)).digest('hex'), op.image.fingerprint);
    assert.equal(Number(op.image.sizeBytes), fs.statSync(file).size);
    const catalogue = (await owner.ok(`{ images { edges { node { id name } } } }`)).images.edges.map((e: any) => e.node.name);
    assert.ok(catalogue.includes(imageName), JSON.stringify(catalogue));
    assert.ok(!otherImagesBefore.includes(op.image.fingerprint), 'the other node did not have it before');

    // A replay answers the same operation and makes nothing new.
    const replay = await admin.ok(CREATE_IMAGE, { i: { containerId: source.id, name: imageName }, k: `image-${imageName}` });
    assert.equal(replay.createImageFromContainer.id, op.id);

    // A new container from it on the other node has the file.
    const copyName = unique('from-img');
    const copy = await settled(
      await admin.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, {
        i: { projectId, name: copyName, imageId: op.image.id, cpu: 1, memoryMiB: 64, diskMiB: 256, nodeId: lab.nodeIds.get(other.name) },
      }),
    );
    assert.equal(copy.operation.state, 'SUCCEEDED', JSON.stringify(copy.operation));
    assert.deepEqual([copy.status, copy.node.name], ['RUNNING', other.name]);
    assert.equal(await statusOn(other, copyName), 'Running');
    assert.equal((await sh(other, copyName, 'cat /srv/proof')).trim(), 'from-the-golden-container');
    assert.ok((await imagesOn(other)).includes(op.image.fingerprint), 'the image was copied to the other node');

    // The name is taken now.
    const taken = await admin.gql(CREATE_IMAGE, { i: { containerId: source.id, name: imageName } });
    assert.equal(codeOf(taken), 'CONFLICT', JSON.stringify(taken.errors));
    for (const id of [copy.id, source.id]) await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });

  test('a stopped container is published directly and stays stopped', async () => {
    const name = unique('stopped');
    const source = await settled(await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name, imageId, cpu: 1, memoryMiB: 64, diskMiB: 256 } }));
    const home = nodes.find((n) => n.name === source.node.name)!;
    await sh(home, name, 'echo stopped-proof > /root/proof && sync');
    await settled(await owner.gql(`mutation($id: ID!) { stopContainer(id: $id) { ${CONTAINER} } }`, { id: source.id }));
    const imageName = unique('img-stopped').toLowerCase();
    const res = await admin.ok(CREATE_IMAGE, { i: { containerId: source.id, name: imageName } });
    const op = await finished(res.createImageFromContainer.id);
    assert.equal(op.state, 'SUCCEEDED', JSON.stringify(op));
    made.push(op.image.fingerprint);
    assert.equal(await statusOn(home, name), 'Stopped');
    assert.deepEqual(await snapshotsOn(home, name), []);
    const copyName = unique('from-stopped');
    const copy = await settled(await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${CONTAINER} } }`, { i: { projectId, name: copyName, imageId: op.image.id, cpu: 1, memoryMiB: 64, diskMiB: 256 } }));
    assert.equal(copy.status, 'RUNNING', JSON.stringify(copy.operation));
    const copyNode = nodes.find((n) => n.name === copy.node.name)!;
    assert.equal((await sh(copyNode, copyName, 'cat /root/proof')).trim(), 'stopped-proof');
    for (const id of [copy.id, source.id]) await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id });
  });
});
