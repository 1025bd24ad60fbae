import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { operationOf, watchEvents } from '../../server/lxd/events';
import type { LxdGateway } from '../../server/nodes/lxd-gateway';
import { Node } from '../../server/nodes/node.entity';
import type { Caller, GqlResponse } from '../support/client';
import { unique } from '../support/factories';
import { corralInstances, type LabNode, lxc, settledContainer } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';

const TENANT_VIEW = `id name status operation { id action state progress step errorCode errorMessage }`;
const CONTAINER = `${TENANT_VIEW} node { name }`;
const MIGRATE = `mutation($id: ID!, $t: ID!, $mode: MigrationMode) { migrateContainer(id: $id, targetNodeId: $t, mode: $mode) { ${CONTAINER} } }`;

/** Push-mode cold migration between the two lab nodes: the source dials the target, seen on both nodes' LXD event streams. */
describe('push-mode migration on real LXD nodes', () => {
  let lab: LabCorral;
  let owner: Caller;
  let admin: Caller;
  let lxdProject: string;

  before(async () => {
    lab = await startLabCorral();
    ({ owner, admin, lxdProject } = lab);
  });
  after(() => lab?.stop());

  const read = async (id: string) => (await admin.ok(`query($id: ID!) { container(id: $id) { ${CONTAINER} } }`, { id })).container;
  const settled = (res: GqlResponse, ms = 120_000) => settledContainer(read, res, ms);
  const sh = (node: LabNode, name: string, script: string) => lxc(node, 'exec', '--project', lxdProject, name, '--', 'sh', '-c', script);
  const statusOn = async (node: LabNode, name: string) => (await corralInstances(node)).get(`${lxdProject}/${name}`) ?? null;

  /**
   * Runs a migration while watching both nodes' operation events. In push mode the target's
   * create is the websocket operation (it waits to be dialled) and the source's migrate is a
   * task; in pull mode it is the other way round (LXD 5.0 `instance_post.go`, `instances_post.go`).
   */
  async function watched(source: LabNode, target: LabNode, move: () => Promise<any>) {
    const gateway = lab.server.services.gateway as LxdGateway;
    const classes = { source: new Map<string, string>(), target: new Map<string, string>() };
    const watches = await Promise.all(
      (['source', 'target'] as const).map(async (side) => {
        const node = await lab.server.db.manager.findOneByOrFail(Node, { name: (side === 'source' ? source : target).name });
        const watch = watchEvents(await gateway.clientFor(node), { types: ['operation'], allProjects: true }, (event) => {
          const op = operationOf(event);
          if (op) classes[side].set(op.description, op.class);
        }, () => undefined);
        await watch.ready;
        return watch;
      }),
    );
    try {
      return { done: await move(), classes };
    } finally {
      for (const watch of watches) watch.close();
    }
  }

  test('a running container moves in push mode: it runs on the target with its file, is gone from the source, keeps its history; the source dialled the target', async () => {
    const name = unique('push');
    const created = await settled(await owner.gql(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { ${TENANT_VIEW} } }`, {
      i: { projectId: lab.projectId, name, imageId: lab.imageIds.busybox, cpu: 1, memoryMiB: 64, diskMiB: 256 },
    }));
    assert.equal(created.status, 'RUNNING', JSON.stringify(created.operation));
    const source = lab.nodes.find((n) => n.name === created.node.name)!;
    const target = lab.nodes.find((n) => n !== source)!;
    await sh(source, name, 'echo pushed-by-corral > /root/proof');

    const push = await watched(source, target, async () => settled(await admin.gql(MIGRATE, { id: created.id, t: lab.nodeIds.get(target.name), mode: 'PUSH' })));
    const done = push.done;
    assert.equal(done.operation.state, 'SUCCEEDED', JSON.stringify(done.operation));
    assert.deepEqual([done.operation.action, done.operation.progress, done.status, done.node.name], ['container.migrate', 100, 'RUNNING', target.name]);
    assert.equal(await statusOn(target, name), 'Running', 'lxc on the target shows it running');
    assert.equal(await statusOn(source, name), null, 'the source no longer has it');
    assert.equal((await sh(target, name, 'cat /root/proof')).trim(), 'pushed-by-corral', 'the data survived');
    const ops = (await admin.ok(`query($c: ID) { operations(containerId: $c) { edges { node { id action state } } } }`, { c: created.id })).operations.edges.map((e: any) => e.node);
    assert.deepEqual(ops.map((o: any) => [o.action, o.state]).reverse(), [['container.create', 'SUCCEEDED'], ['container.migrate', 'SUCCEEDED']], 'the history stays');
    assert.equal(push.classes.source.get('Migrating instance'), 'task', `push: the source dials out (${JSON.stringify([...push.classes.source])})`);
    assert.equal(push.classes.target.get('Creating instance'), 'websocket', `push: the target waits to be dialled (${JSON.stringify([...push.classes.target])})`);

    // Back in pull mode (the default), to show the events tell the two apart.
    const pull = await watched(target, source, async () => settled(await admin.gql(MIGRATE, { id: created.id, t: lab.nodeIds.get(source.name) })));
    assert.equal(pull.done.operation.state, 'SUCCEEDED', JSON.stringify(pull.done.operation));
    assert.equal(pull.classes.source.get('Migrating instance'), 'websocket', `pull: the source waits to be dialled (${JSON.stringify([...pull.classes.source])})`);
    assert.equal(pull.classes.target.get('Creating instance'), 'task', `pull: the target dials out (${JSON.stringify([...pull.classes.target])})`);
    assert.equal((await sh(source, name, 'cat /root/proof')).trim(), 'pushed-by-corral');
    await owner.ok(`mutation($id: ID!) { deleteContainer(id: $id) { id } }`, { id: created.id });
  });
});
