import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CorralError } from '../../server/app/errors';
import { LxdCloneGateway } from '../../server/containers/clone.gateway';
import { LxdImagePublishGateway } from '../../server/images/image-from-container.gateway';
import type { LxdClient } from '../../server/lxd/client';
import { LxdError } from '../../server/lxd/errors';
import type { Node } from '../../server/nodes/node.entity';

const node = { id: 'n1', name: 'n1' } as Node;
const FP = 'a'.repeat(64);

/** An LXD client that answers from a script and records every call as `METHOD path body`. */
function stubClient(status: string, answer: (method: string, path: string, body: unknown) => unknown) {
  const calls: string[] = [];
  const instance = { name: 'web', status, status_code: status === 'Running' ? 103 : 102, config: { 'volatile.uuid': 'u' }, devices: {}, profiles: ['default'] };
  const client = {
    url: 'https://n1:8443',
    async sync(method: string, path: string, options: { body?: unknown } = {}) {
      calls.push(`${method} ${path} ${JSON.stringify(options.body ?? null)}`);
      if (method === 'GET' && /^\/1\.0\/instances\/[^/]+$/.test(path)) {
        if (path.endsWith('/web')) return { metadata: instance };
        throw new LxdError('Instance not found', { status: 404 });
      }
      return { metadata: answer(method, path, options.body) };
    },
    async operation(method: string, path: string, options: { body?: unknown } = {}) {
      calls.push(`${method} ${path} ${JSON.stringify(options.body ?? null)}`);
      const metadata = answer(method, path, options.body);
      return { kind: 'finished', operation: { id: 'op', metadata } };
    },
  };
  return { client: client as unknown as LxdClient, calls };
}

describe('clone and image-from-container: how Corral speaks to LXD', () => {
  test('a clone on the same node is an instance-only copy; a btrfs qgroup refusal becomes a plain LXD_ERROR', async () => {
    const { client, calls } = stubClient('Running', (method, path) => {
      if (method === 'POST' && path === '/1.0/instances') {
        throw new LxdError('Create instance from copy: Failed to run: btrfs qgroup limit 268435456 0/311 …: exit status 1 (ERROR: unable to limit requested quota group: Disk quota exceeded)', { status: 400 });
      }
      return {};
    });
    const gateway = new LxdCloneGateway({ clientFor: async () => client });
    await assert.rejects(gateway.cloneInstance(node, node, 'p', 'web', 'web-copy', 1000), (error: unknown) => {
      assert.ok(error instanceof CorralError);
      assert.equal(error.code, 'LXD_ERROR');
      assert.match(error.message, /btrfs quota of web on node n1/);
      assert.deepEqual(error.details, { qgroup: true });
      return true;
    });
    const copy = calls.find((c) => c.startsWith('POST /1.0/instances '))!;
    assert.deepEqual(JSON.parse(copy.slice('POST /1.0/instances '.length)), { name: 'web-copy', type: 'container', source: { type: 'copy', source: 'web', instance_only: true } });
  });

  test('a running container is published through a snapshot, which is deleted afterwards; "already exists" is the image', async () => {
    const { client, calls } = stubClient('Running', (method, path) => {
      if (method === 'DELETE' && path.includes('/snapshots/')) {
        // The first DELETE (a leftover from an earlier attempt) finds nothing.
        if (calls.filter((c) => c.startsWith('DELETE')).length === 1) throw new LxdError('not found', { status: 404 });
        return {};
      }
      if (method === 'POST' && path === '/1.0/images') throw new LxdError(`The image already exists: ${FP}`, { status: 400 });
      return {};
    });
    const gateway = new LxdImagePublishGateway({ clientFor: async () => client });
    assert.equal(await gateway.publishInstance(node, 'p', 'web', 'corral-image-x', 1000), FP);
    const writes = calls.filter((c) => !c.startsWith('GET'));
    assert.deepEqual(writes.map((c) => c.split(' ').slice(0, 2).join(' ')), [
      'DELETE /1.0/instances/web/snapshots/corral-image-x',
      'POST /1.0/instances/web/snapshots',
      'POST /1.0/images',
      'DELETE /1.0/instances/web/snapshots/corral-image-x',
    ]);
    assert.deepEqual(JSON.parse(writes[2]!.slice('POST /1.0/images '.length)).source, { type: 'snapshot', name: 'web/corral-image-x' });
  });

  test('a stopped container is published directly, with no snapshot, and the new fingerprint is returned', async () => {
    const { client, calls } = stubClient('Stopped', (method, path) => {
      if (method === 'DELETE') throw new LxdError('not found', { status: 404 });
      if (method === 'POST' && path === '/1.0/images') return { fingerprint: FP, size: '1024' };
      return {};
    });
    const gateway = new LxdImagePublishGateway({ clientFor: async () => client });
    assert.equal(await gateway.publishInstance(node, 'p', 'web', 'corral-image-x', 1000), FP);
    assert.ok(!calls.some((c) => c.startsWith('POST /1.0/instances/web/snapshots')));
    const publish = calls.find((c) => c.startsWith('POST /1.0/images'))!;
    assert.deepEqual(JSON.parse(publish.slice('POST /1.0/images '.length)).source, { type: 'instance', name: 'web' });
  });
});
