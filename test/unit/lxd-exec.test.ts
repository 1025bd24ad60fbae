import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseOperation } from '../../server/lxd/client';
import { LxdError, LxdOperationTimeoutError } from '../../server/lxd/errors';
import { execRequestBody, execSecretsOf, exitCodeOf, isCommandNotFound, operationWebSocketUrl, OutputCollector } from '../../server/lxd/exec';

const execOperation = (metadata: Record<string, unknown>) =>
  parseOperation({ id: 'op-1', class: 'websocket', description: 'Executing command', status: 'Running', status_code: 103, resources: null, metadata, may_cancel: false, err: '' });

test('an exec request is non-interactive, waits for its websockets and records nothing', () => {
  assert.deepEqual(execRequestBody({ command: ['chpasswd', '-e'] }), {
    command: ['chpasswd', '-e'],
    environment: {},
    'wait-for-websocket': true,
    interactive: false,
    'record-output': false,
  });
  assert.throws(() => execRequestBody({ command: [] }));
  assert.throws(() => execRequestBody({ command: [''] }));
});

test('the fd secrets are read from the operation; without fds 0, 1 and 2 the reply is malformed', () => {
  const secrets = execSecretsOf(execOperation({ fds: { '0': 'a', '1': 'b', '2': 'c', control: 'd' } }));
  assert.deepEqual(secrets, { stdin: 'a', stdout: 'b', stderr: 'c', control: 'd' });
  assert.equal(execSecretsOf(execOperation({ fds: { '0': 'a', '1': 'b', '2': 'c' } })).control, null);
  assert.throws(() => execSecretsOf(execOperation({ fds: { '0': 'a', '1': 'b' } })), (e) => e instanceof LxdError && e.lxdCode === 0);
  assert.throws(() => execSecretsOf(execOperation({})), LxdError);
});

test('the exit code comes from metadata.return and must be an integer', () => {
  assert.equal(exitCodeOf(execOperation({ return: 7 })), 7);
  assert.equal(exitCodeOf(execOperation({ return: 0 })), 0);
  assert.throws(() => exitCodeOf(execOperation({ return: '0' })), LxdError);
  assert.throws(() => exitCodeOf(execOperation({})), LxdError);
});

test('the operation websocket URL is wss, encodes the id as a segment and the secret as a query value', () => {
  assert.equal(operationWebSocketUrl('https://198.18.0.11:8443', 'ab/c', 's+e=c'), 'wss://198.18.0.11:8443/1.0/operations/ab%2Fc/websocket?secret=s%2Be%3Dc');
});

test('an output stream is its binary frames up to the empty text frame; later frames are ignored', () => {
  const out = new OutputCollector();
  assert.equal(out.take(Buffer.from('hello '), true), false);
  assert.equal(out.take(Buffer.from('wörld'), true), false);
  assert.equal(out.take(Buffer.alloc(0), false), true);
  assert.equal(out.take(Buffer.from('late'), true), true);
  assert.ok(out.done);
  assert.equal(out.text(), 'hello wörld');
  const empty = new OutputCollector();
  assert.equal(empty.take(Buffer.alloc(0), true), false, 'an empty binary frame is data, not the end');
});

test("LXD's 'Command not found' failure is recognised, a timeout is not", () => {
  assert.ok(isCommandNotFound(new LxdError('Command not found', { status: 400, operationId: 'x' })));
  assert.ok(!isCommandNotFound(new LxdError('Instance is not running', { status: 400 })));
  assert.ok(!isCommandNotFound(new LxdOperationTimeoutError('Command not found', { status: 103, operationId: 'x' })));
  assert.ok(!isCommandNotFound(new Error('Command not found')));
});
