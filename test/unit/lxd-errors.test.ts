import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LxdError, LxdOperationTimeoutError, LxdUnavailableError, isConflict, isNotFound, isUnavailable } from '../../server/lxd/errors';

test('an LXD error keeps its status, LXD code and operation id', () => {
  const error = new LxdError('Instance not found', { status: 404, lxdCode: 404 });
  assert.equal(error.status, 404);
  assert.equal(error.lxdCode, 404);
  assert.equal(error.operationId, undefined);
  assert.ok(error instanceof Error);
  const failed = new LxdError('boom', { status: 400, operationId: 'op-1' });
  assert.equal(failed.lxdCode, 400, 'an operation has no error_code: the status is repeated');
  assert.equal(failed.operationId, 'op-1');
});

test('"not found" is recognised by status or LXD code, and only on LXD errors', () => {
  assert.ok(isNotFound(new LxdError('Instance not found', { status: 404 })));
  assert.ok(isNotFound(new LxdError('Not found', { status: 200, lxdCode: 404 })));
  assert.ok(!isNotFound(new LxdError('Instance is running', { status: 400 })));
  assert.ok(!isNotFound(new Error('not found')));
  assert.ok(!isNotFound(new LxdUnavailableError('down', { reason: 'connect' })));
});

test('conflicts are recognised by 409 and by the messages LXD sends with other statuses', () => {
  assert.ok(isConflict(new LxdError('x', { status: 409 })));
  assert.ok(isConflict(new LxdError('Failed creating instance record: Add instance info to the database: This "instances" entry already exists', { status: 400 })));
  assert.ok(isConflict(new LxdError('The instance is already running', { status: 400 })));
  assert.ok(isConflict(new LxdError('Client is already trusted', { status: 400 })));
  assert.ok(isConflict(new LxdError('Image with same fingerprint already exists', { status: 400 })));
  assert.ok(!isConflict(new LxdError('Invalid config: Invalid allowance: abc', { status: 500 })));
  assert.ok(!isConflict(new Error('already exists')));
});

test('an operation still running at the deadline is neither "not found" nor a conflict', () => {
  const error = new LxdOperationTimeoutError('still running', { status: 103, operationId: 'op-1' });
  assert.ok(error instanceof LxdError);
  assert.ok(!isNotFound(error));
  assert.ok(!isConflict(error));
  assert.equal(error.operationId, 'op-1');
});

test('an unreachable node keeps the reason and the cause', () => {
  const cause = new Error('connect ECONNREFUSED');
  const error = new LxdUnavailableError('LXD at x is unavailable', { reason: 'connect', cause });
  assert.equal(error.cause, cause);
  assert.equal(error.reason, 'connect');
  assert.ok(isUnavailable(error));
  assert.ok(!isUnavailable(new LxdError('x', { status: 500 })));
});
