import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instanceNameOf, lifecycleOf, operationOf, parseEvent } from '../../server/lxd/events';

const lifecycle = JSON.stringify({
  type: 'lifecycle',
  timestamp: '2025-01-01T00:00:00.123Z',
  metadata: { action: 'instance-started', source: '/1.0/instances/r-clone?project=tenant', requestor: { username: 'root', protocol: 'unix', address: '@' } },
  location: 'none',
  project: 'tenant',
});

test('a lifecycle message is parsed into type, timestamp, project and its action on a source', () => {
  const event = parseEvent(lifecycle);
  assert.ok(event);
  assert.equal(event.type, 'lifecycle');
  assert.equal(event.project, 'tenant');
  assert.equal(event.timestamp, '2025-01-01T00:00:00.123Z');
  assert.deepEqual(lifecycleOf(event), {
    action: 'instance-started',
    source: '/1.0/instances/r-clone?project=tenant',
    requestor: { username: 'root', protocol: 'unix', address: '@' },
  });
  assert.equal(operationOf(event), null);
});

test('a lifecycle event without a requestor (a guest poweroff, a PATCH) is still parsed', () => {
  const event = parseEvent(JSON.stringify({ type: 'lifecycle', metadata: { action: 'instance-shutdown', source: '/1.0/instances/c1' }, project: 'default' }));
  assert.ok(event);
  assert.equal(lifecycleOf(event)?.requestor, null);
});

test('an operation message gives the operation object', () => {
  const event = parseEvent(
    JSON.stringify({
      type: 'operation',
      project: 'default',
      metadata: { id: '71a4', class: 'task', description: 'Starting instance', status: 'Success', status_code: 200, resources: { instances: ['/1.0/instances/c1'] }, err: '' },
    }),
  );
  assert.ok(event);
  const op = operationOf(event);
  assert.equal(op?.id, '71a4');
  assert.equal(op?.statusCode, 200);
  assert.equal(lifecycleOf(event), null);
});

test('messages that are not LXD events are dropped', () => {
  assert.equal(parseEvent('not json'), null);
  assert.equal(parseEvent('{"metadata":{}}'), null);
  assert.equal(parseEvent('[1,2]'), null);
  const odd = parseEvent(JSON.stringify({ type: 'lifecycle', metadata: { source: 'x' } }));
  assert.ok(odd);
  assert.equal(lifecycleOf(odd), null, 'a lifecycle event without an action is not a lifecycle');
});

test('the instance name is taken from a lifecycle source, and only for the instance itself', () => {
  assert.equal(instanceNameOf('/1.0/instances/c1'), 'c1');
  assert.equal(instanceNameOf('/1.0/instances/c1?project=tenant'), 'c1');
  assert.equal(instanceNameOf('/1.0/instances/a%20b'), 'a b');
  assert.equal(instanceNameOf('/1.0/instances/c1/snapshots/s1'), null);
  assert.equal(instanceNameOf('/1.0/images/abc'), null);
});
