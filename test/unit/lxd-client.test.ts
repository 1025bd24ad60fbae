import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  LxdClient,
  buildRequestTarget,
  decodeTrustToken,
  encodeSegment,
  lxdPath,
  parseEnvelope,
  parseMetadata,
  parseOperation,
  settleOperation,
  unavailableReason,
  type LxdOperation,
} from '../../server/lxd/client';
import { LxdError, LxdPinMismatchError } from '../../server/lxd/errors';
import { z } from 'zod';

const operation = (overrides: Record<string, unknown> = {}) => ({
  id: '340a5b38-1b7c-4a2b-9d55-7e3f0f1c2d3e',
  class: 'task',
  description: 'Creating instance',
  created_at: '2025-01-01T00:00:00Z',
  updated_at: '2025-01-01T00:00:00Z',
  status: 'Running',
  status_code: 103,
  resources: { instances: ['/1.0/instances/c1'] },
  metadata: null,
  may_cancel: false,
  err: '',
  location: 'none',
  ...overrides,
});

function lxdErrorOf(fn: () => unknown): LxdError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LxdError, `expected an LxdError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an LxdError, nothing was thrown');
}

describe('LXD paths', () => {
  test('every interpolated value is encoded as exactly one path segment', () => {
    assert.equal(lxdPath`/1.0/instances/${'c1'}/state`, '/1.0/instances/c1/state');
    assert.equal(lxdPath`/1.0/instances/${'a/b'}`, '/1.0/instances/a%2Fb');
    assert.equal(lxdPath`/1.0/instances/${'x?project=default'}`, '/1.0/instances/x%3Fproject%3Ddefault');
    assert.equal(lxdPath`/1.0/images/${'a b#c'}`, '/1.0/images/a%20b%23c');
    assert.equal(lxdPath`/1.0/instances/${'é'}`, '/1.0/instances/%C3%A9');
  });

  test('dot segments cannot climb out of the resource', () => {
    assert.equal(lxdPath`/1.0/instances/${'..'}`, '/1.0/instances/%2E%2E');
    assert.equal(lxdPath`/1.0/instances/${'.'}/state`, '/1.0/instances/%2E/state');
    assert.equal(encodeSegment('a.b'), 'a.b');
  });

  test('an empty segment is refused, since it would turn a read of one object into a list', () => {
    assert.throws(() => lxdPath`/1.0/instances/${''}`, /cannot be empty/);
  });

  test('a path must be under /1.0', () => {
    assert.throws(() => lxdPath`/instances/${'c1'}`, /starts with \/1\.0/);
  });

  test('project-scoped requests carry ?project=, listing across projects carries all-projects=true', () => {
    assert.equal(buildRequestTarget(lxdPath`/1.0/instances/${'c1'}`, { project: 'tenant a' }), '/1.0/instances/c1?project=tenant+a');
    assert.equal(buildRequestTarget(lxdPath`/1.0/instances`, { allProjects: true, query: { recursion: 1 } }), '/1.0/instances?all-projects=true&recursion=1');
    assert.equal(buildRequestTarget(lxdPath`/1.0/projects/${'p&x=1'}`), '/1.0/projects/p%26x%3D1');
    assert.equal(buildRequestTarget(lxdPath`/1.0/instances`, { project: 'p', query: { skip: undefined } }), '/1.0/instances?project=p');
  });

  test('a project and all-projects together, or an empty project, are refused', () => {
    assert.throws(() => buildRequestTarget(lxdPath`/1.0/instances`, { project: 'p', allProjects: true }));
    assert.throws(() => buildRequestTarget(lxdPath`/1.0/instances`, { project: '' }));
  });
});

describe('LXD envelopes', () => {
  test('a sync reply gives its metadata and ETag', () => {
    const reply = parseEnvelope(200, { type: 'sync', status: 'Success', status_code: 200, operation: '', error_code: 0, error: '', metadata: { name: 'c1' } }, '"abc"');
    assert.deepEqual(reply, { type: 'sync', httpStatus: 200, metadata: { name: 'c1' }, etag: '"abc"' });
  });

  test('an async reply gives the parsed operation', () => {
    const reply = parseEnvelope(202, { type: 'async', status: 'Operation created', status_code: 100, operation: '/1.0/operations/x', error_code: 0, error: '', metadata: operation() });
    assert.equal(reply.type, 'async');
    assert.equal(reply.type === 'async' && reply.operation.id, '340a5b38-1b7c-4a2b-9d55-7e3f0f1c2d3e');
    assert.equal(reply.type === 'async' && reply.operation.statusCode, 103);
  });

  test('an error reply keeps the HTTP status, the error_code and the message', () => {
    const error = lxdErrorOf(() => parseEnvelope(404, { type: 'error', status: '', status_code: 0, operation: '', error_code: 404, error: 'Instance not found', metadata: null }));
    assert.equal(error.status, 404);
    assert.equal(error.lxdCode, 404);
    assert.equal(error.message, 'Instance not found');
  });

  test('a validation error keeps LXD\'s own code, 500', () => {
    const error = lxdErrorOf(() => parseEnvelope(500, { type: 'error', error_code: 500, error: 'Invalid config: Invalid allowance: abc' }));
    assert.equal(error.status, 500);
    assert.equal(error.lxdCode, 500);
  });

  test('an HTTP error status is an error even when the body claims success', () => {
    const error = lxdErrorOf(() => parseEnvelope(403, { type: 'sync', status_code: 200, metadata: {} }));
    assert.equal(error.status, 403);
  });

  test('anything that is not a well-formed envelope is an LxdError with lxdCode 0, never a value', () => {
    for (const [status, body] of [
      [200, 'hello'],
      [200, { type: 'weird' }],
      [200, { metadata: {} }],
      [200, { type: 'sync', status_code: 100, metadata: {} }],
      [200, { type: 'sync', status_code: 200, error_code: 500, metadata: {} }],
      [202, { type: 'async', status_code: 100, metadata: { id: 'x' } }],
      [202, { type: 'async', status_code: 200, metadata: operation() }],
      [502, '<html>Bad gateway</html>'],
    ] as const) {
      const error = lxdErrorOf(() => parseEnvelope(status, body));
      assert.equal(error.lxdCode, 0, JSON.stringify(body));
    }
  });

  test('metadata is parsed against a schema, naming the endpoint and the bad field', () => {
    const schema = z.object({ name: z.string(), status_code: z.number() });
    assert.deepEqual(parseMetadata(schema, { name: 'c1', status_code: 103, extra: true }, 'GET /x'), { name: 'c1', status_code: 103 });
    const error = lxdErrorOf(() => parseMetadata(schema, { name: 'c1', status_code: '103' }, 'GET /x'));
    assert.match(error.message, /GET \/x: status_code/);
    assert.equal(error.lxdCode, 0);
  });
});

describe('LXD operations', () => {
  const op = (overrides: Record<string, unknown>): LxdOperation => parseOperation(operation(overrides));

  test('a successful operation is returned as finished', () => {
    const outcome = settleOperation(op({ status: 'Success', status_code: 200, metadata: { fingerprint: 'abc' } }));
    assert.equal(outcome.kind, 'finished');
    assert.deepEqual(outcome.kind === 'finished' && outcome.operation.metadata, { fingerprint: 'abc' });
  });

  test('a failed operation (answered with HTTP 200 by /wait) becomes an LxdError with its err, status_code and id', () => {
    const error = lxdErrorOf(() =>
      settleOperation(op({ status: 'Failure', status_code: 400, err: 'Failed creating instance record: This "instances" entry already exists' })),
    );
    assert.equal(error.status, 400);
    assert.equal(error.lxdCode, 400);
    assert.equal(error.operationId, '340a5b38-1b7c-4a2b-9d55-7e3f0f1c2d3e');
    assert.match(error.message, /already exists/);
  });

  test('a cancelled operation is a failure too', () => {
    const error = lxdErrorOf(() => settleOperation(op({ status: 'Cancelled', status_code: 401, err: '' })));
    assert.equal(error.status, 401);
    assert.match(error.message, /Cancelled/);
  });

  test('an operation object missing its id or status is refused', () => {
    lxdErrorOf(() => parseOperation({ ...operation(), id: '' }));
    lxdErrorOf(() => parseOperation({ ...operation(), status_code: 'Running' }));
  });
});

describe('LXD trust tokens', () => {
  const fingerprint = 'ebe9b8d2'.repeat(8);
  const token = (body: unknown) => Buffer.from(JSON.stringify(body)).toString('base64');

  test('a token is decoded into the server fingerprint to pin', () => {
    const decoded = decodeTrustToken(token({ client_name: 'corral', fingerprint, addresses: ['198.18.0.11:8443'], secret: '76dc', expires_at: '0001-01-01T00:00:00Z' }));
    assert.deepEqual(decoded, { fingerprint, addresses: ['198.18.0.11:8443'], clientName: 'corral' });
  });

  test('a trust password is not a token', () => {
    assert.equal(decodeTrustToken('corral-lab'), null);
    assert.equal(decodeTrustToken('secret'), null);
    assert.equal(decodeTrustToken(token({ fingerprint: 'short', secret: 'x' })), null);
    assert.equal(decodeTrustToken(token({ fingerprint })), null);
    assert.equal(decodeTrustToken(token(['x'])), null);
  });
});

describe('LXD transport failures', () => {
  test('they are classified: pin mismatch, timeout, TLS, connection', () => {
    assert.equal(unavailableReason(new LxdPinMismatchError('a', 'b')), 'pin-mismatch');
    assert.equal(unavailableReason(Object.assign(new Error('wrapped'), { cause: new LxdPinMismatchError('a', null) })), 'pin-mismatch');
    assert.equal(unavailableReason(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), 'timeout');
    assert.equal(unavailableReason(Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), 'timeout');
    assert.equal(unavailableReason(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })), 'tls');
    assert.equal(unavailableReason(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'connect');
    assert.equal(unavailableReason(Object.assign(new Error('closed'), { code: 'UND_ERR_DESTROYED' })), 'closed');
  });
});

describe('LxdClient construction', () => {
  const identity = { certificate: 'unused', key: 'unused' };

  test('a client without a pin is refused: it would trust whoever answers', () => {
    assert.throws(() => new LxdClient({ url: 'https://198.18.0.11:8443' }, identity), /pin/);
  });

  test('only https URLs are accepted', () => {
    assert.throws(() => new LxdClient({ url: 'http://198.18.0.11:8443', fingerprint: 'ab'.repeat(32) }, identity), /https/);
  });

  test('a fingerprint pin is normalised to LXD\'s lower-case hex, and malformed ones are refused', async () => {
    const client = new LxdClient({ url: 'https://198.18.0.11:8443/ignored', fingerprint: 'AB:'.repeat(31) + 'AB' }, identity);
    assert.equal(client.fingerprint, 'ab'.repeat(32));
    assert.equal(client.url, 'https://198.18.0.11:8443');
    await client.close();
    assert.throws(() => new LxdClient({ url: 'https://198.18.0.11:8443', fingerprint: 'abc' }, identity), /64 hexadecimal/);
  });
});
