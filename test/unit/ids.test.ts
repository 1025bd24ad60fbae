import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isId, newId } from '../../server/common/ids';

test('new IDs are UUIDv7 and sort in creation order', () => {
  const ids = Array.from({ length: 50 }, (_, i) => newId(1_800_000_000_000 + i));
  for (const id of ids) {
    assert.ok(isId(id), id);
    assert.equal(id[14], '7');
  }
  assert.deepEqual([...ids].sort(), ids);
});

test('anything but one of our IDs is not an ID', () => {
  for (const value of ['', 'x', '1', "'; DROP TABLE accounts; --", '01A2172D-7400-7884-938F-35DF158210E7', null, 42]) assert.equal(isId(value), false, String(value));
});
