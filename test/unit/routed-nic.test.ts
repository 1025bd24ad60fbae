import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../server/common/ids';
import { configureScript, withPrefix } from '../../server/network/addresses.gateway';
import { routedHostName, routedNicDevice } from '../../server/network/routed-nic';

test('routed host-side names fit IFNAMSIZ and differ for containers created in the same millisecond', () => {
  const now = Date.now();
  const ids = Array.from({ length: 200 }, () => newId(now));
  const names = ids.map(routedHostName);
  for (const name of names) assert.match(name, /^cr[0-9a-f]{13}$/);
  assert.equal(new Set(names).size, names.length);
  assert.equal(routedHostName('0190a1b2-c3d4-7e5f-8a6b-1c2d3e4f5a6b'), 'crb1c2d3e4f5a6b');
});

test('eth0 is a routed NIC with each family’s addresses and host table 100, and nothing without addresses', () => {
  const id = '0190a1b2-c3d4-7e5f-8a6b-1c2d3e4f5a6b';
  assert.equal(routedNicDevice(id, []), null);
  assert.deepEqual(routedNicDevice(id, [{ family: 4, address: '198.51.100.1' }, { family: 4, address: '198.51.100.2' }]), {
    type: 'nic',
    nictype: 'routed',
    name: 'eth0',
    host_name: 'crb1c2d3e4f5a6b',
    'ipv4.address': '198.51.100.1,198.51.100.2',
    'ipv4.host_table': '100',
  });
  assert.deepEqual(routedNicDevice(id, [{ family: 6, address: '2001:db8::1' }]), { type: 'nic', nictype: 'routed', name: 'eth0', host_name: 'crb1c2d3e4f5a6b', 'ipv6.address': '2001:db8::1', 'ipv6.host_table': '100' });
});

test('the script inside the container takes the addresses as arguments and sets only the routes of the families it has', () => {
  assert.equal(withPrefix({ family: 4, address: '198.51.100.1' }), '198.51.100.1/32');
  assert.equal(withPrefix({ family: 6, address: '2001:db8::1' }), '2001:db8::1/128');
  const v6only = configureScript(false, true);
  assert.ok(!v6only.includes('169.254.0.1'));
  assert.ok(v6only.includes('default via fe80::1 dev eth0'));
  assert.ok(!v6only.includes('198.51.100'), 'no address in the script itself');
  assert.ok(configureScript(true, false).includes('default via 169.254.0.1 dev eth0'));
});
