import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphQLError } from 'graphql';
import { formatError } from '../../server/app/error-mapping';
import { CorralError, ErrorCode } from '../../server/app/errors';

const located = (original: Error) => new GraphQLError(original.message, { path: ['x'], originalError: original });

test('a domain error keeps its code, message and details', () => {
  const error = located(new CorralError(ErrorCode.CONFLICT, 'taken', { field: 'name' }));
  assert.deepEqual(formatError(error.toJSON(), error).extensions, { field: 'name', code: 'CONFLICT' });
});

test('anything unexpected becomes "Internal error" with no detail', () => {
  const error = located(new Error('SELECT * FROM secrets failed at db.internal:5432'));
  const formatted = formatError(error.toJSON(), error);
  assert.equal(formatted.message, 'Internal error');
  assert.deepEqual(formatted.extensions, { code: 'INTERNAL_SERVER_ERROR' });
});
