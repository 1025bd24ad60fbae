import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { unique } from '../support/factories';
import { corralInstances, lxc, type LabNode } from '../support/lab';
import { startLabCorral, type LabCorral } from '../support/lab-corral';
import { subscribe } from '../support/live';

const CONTAINER_CHANGED = `subscription($c: ID!) { containerChanged(containerId: $c) { id name status operation { action state } } }`;
const OPERATION_PROGRESS = `subscription($id: ID!) { operationProgress(operationId: $id) { id action state progress step errorCode errorMessage } }`;

/** Live subscriptions on the real lab: real graphql-ws clients, real LXD events, checked on the node with lxc. */
describe('live subscriptions on real LXD nodes', () => {
  let lab: LabCorral;

  before(async () => {
    lab = await startLabCorral();
    // The node watch opens every node's LXD event stream (it would within a health interval anyway).
    await lab.server.services.nodeWatch.connectAll();
  });
  after(() => lab?.stop());

  const statusOnNodes = async (name: string) => {
    for (const node of lab.nodes) {
      const status = (await corralInstances(node)).get(`${lab.lxdProject}/${name}`);
      if (status) return { node, status };
    }
    return null;
  };

  let container: { id: string; name: string; node: LabNode };

  test('operationProgress of a create reaches SUCCEEDED at 100 and completes; the container runs on its node', async () => {
    const name = unique('live');
    const created = await lab.owner.ok(`mutation($i: CreateContainerInput!) { createContainer(input: $i) { id operation { id } } }`, {
      i: { projectId: lab.projectId, name, imageId: lab.imageIds.busybox, cpu: 1, memoryMiB: 64, diskMiB: 256 },
    });
    const sub = subscribe(lab.owner.ws(), { query: OPERATION_PROGRESS, variables: { id: created.createContainer.operation.id } });
    try {
      assert.deepEqual(await sub.end(120_000), { complete: true }, JSON.stringify(sub.events));
      const states = sub.events.map((d) => d.operationProgress);
      console.log(`# operationProgress events: ${states.map((s) => `${s.state} ${s.progress}% ${s.step}`).join(' | ')}`);
      const last = states.at(-1);
      assert.deepEqual([last.action, last.state, last.progress], ['container.create', 'SUCCEEDED', 100], JSON.stringify(last));
      const progress = states.map((s) => s.progress);
      assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress never goes back');
    } finally {
      await sub.close();
    }
    const placed = await statusOnNodes(name);
    assert.equal(placed?.status, 'Running');
    container = { id: created.createContainer.id, name, node: placed!.node };
  });

  test('containerChanged: a stop through Corral, then a start, then `lxc stop` on the node behind Corral\'s back (within 2 s)', async () => {
    assert.ok(container, 'the container of the first test');
    const { id, name, node } = container;
    const sub = subscribe(lab.owner.ws(), { query: CONTAINER_CHANGED, variables: { c: id } });
    const after = (count: number, status: string) => (d: any) => sub.events.indexOf(d) >= count && d.containerChanged.status === status;
    try {
      await sub.ready(() => lab.server.services.livePublisher.containerChanged(id));

      // Through Corral.
      let count = sub.events.length;
      await lab.owner.ok(`mutation($id: ID!) { stopContainer(id: $id, force: true) { id } }`, { id });
      const stopped = await sub.until('STOPPED through Corral', after(count, 'STOPPED'), 60_000);
      assert.equal(stopped.containerChanged.operation.action, 'container.stop');
      assert.equal((await statusOnNodes(name))?.status, 'Stopped');
      count = sub.events.length;
      await lab.owner.ok(`mutation($id: ID!) { startContainer(id: $id) { id } }`, { id });
      await sub.until('RUNNING through Corral', (d) => after(count, 'RUNNING')(d) && d.containerChanged.operation.state === 'SUCCEEDED', 60_000);
      assert.equal((await statusOnNodes(name))?.status, 'Running');
      // Let the start's own events settle, so that the next STOPPED can only come from the node.
      await lab.server.services.runner.settled((await lab.owner.ok(`query($id: ID!) { container(id: $id) { operation { id } } }`, { id })).container.operation.id);

      // Behind Corral's back: an operator stops it on the node.
      count = sub.events.length;
      const began = Date.now();
      await lxc(node, 'stop', '--force', '--project', lab.lxdProject, name);
      const stoppedOnNode = Date.now();
      const event = await sub.until('STOPPED from the node, within 2 s of `lxc stop` returning', after(count, 'STOPPED'), 2000);
      const arrived = sub.arrivals[sub.events.indexOf(event)]!;
      console.log(`# lxc stop behind Corral's back: \`lxc stop --force\` took ${stoppedOnNode - began} ms; the subscriber had the event ${arrived - began} ms after it began (${arrived - stoppedOnNode} ms relative to its return)`);
      assert.ok(arrived - stoppedOnNode <= 2000);
      assert.equal((await statusOnNodes(name))?.status, 'Stopped');
      assert.equal((await lab.owner.ok(`query($id: ID!) { container(id: $id) { status } }`, { id })).container.status, 'STOPPED');
      assert.equal(sub.ended, null, 'the subscription goes on');
    } finally {
      await sub.close();
    }
  });
});
