import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { projectBridge } from '../../server/containers/nics.gateway';
import { hwaddrOf, sharedLimits } from '../../server/containers/nics.operations';
import { NIC_NAME } from '../../server/containers/nics.service';
import { capabilitiesFrom } from '../../server/containers/resources.gateway';
import { why } from '../../server/nodes/nic-limits-probe';

/** What LXD 5.0.2 answered the probe's egress limit on the lab nodes (LXD-NOTES §12). */
const POLICE_FAILURE =
  'Failed to update device "probe": Failed to create ingress tc filter: Failed to run: tc filter add dev veth2a1080bb parent ffff:0 protocol all u32 match u32 0 0 police rate 1000000bit burst 1024k mtu 64kb drop: exit status 2 (Error: Failed to load TC action module.\nWe have an error talking to the kernel)';

describe('network interfaces: pure parts', () => {
  test('NIC limits are supported only as the probe found them; an unprobed node supports neither', () => {
    const probed = capabilitiesFrom('btrfs', [], { ingress: null, egress: why(POLICE_FAILURE) });
    assert.deepEqual([probed.nicIngressLimit, probed.nicEgressLimit], [true, false]);
    const reason = probed.reasons.find((r) => r.startsWith('nicEgressLimit:'))!;
    assert.match(reason, /tc police \(act_police\)/);
    assert.match(reason, /Failed to load TC action module\./);
    assert.doesNotMatch(reason, /u32 match/, 'the tc command line is left out');
    assert.ok(!probed.reasons.some((r) => r.startsWith('nicIngressLimit:')));

    const unprobed = capabilitiesFrom('btrfs', []);
    assert.deepEqual([unprobed.nicIngressLimit, unprobed.nicEgressLimit], [false, false]);
    assert.ok(unprobed.reasons.some((r) => r.startsWith('nicIngressLimit:') && /not probed yet/.test(r)));

    const both = capabilitiesFrom('btrfs', [], { ingress: null, egress: null });
    assert.deepEqual([both.nicIngressLimit, both.nicEgressLimit], [true, true]);
    assert.ok(!both.reasons.some((r) => r.startsWith('nic')));
  });

  test('MAC addresses come from the operation: the same one twice, another for another operation, in LXD’s prefix', () => {
    const a = hwaddrOf('01a217e6-da2b-73f0-9b0b-dd7a0bdd1a29');
    assert.match(a, /^00:16:3e(:[0-9a-f]{2}){3}$/);
    assert.equal(hwaddrOf('01a217e6-da2b-73f0-9b0b-dd7a0bdd1a29'), a);
    assert.notEqual(hwaddrOf('01a217e6-da2b-73f0-9b0b-dd7a0bdd1a30'), a);
  });

  test('a new NIC takes the limits the container’s NICs carry', () => {
    assert.deepEqual(sharedLimits({ root: { type: 'disk', 'limits.read': '5MB' }, eth1: { type: 'nic', 'limits.ingress': '10Mbit' } }), { 'limits.ingress': '10Mbit' });
    assert.deepEqual(sharedLimits({ root: { type: 'disk' } }), {});
  });

  test('interface names: Linux rules (at most 15, no / : or blanks), starting with a letter; project bridges fit them', () => {
    for (const ok of ['eth1', 'data0', 'a', 'vlan.100', 'x_y-z', 'abcdefghijklmno']) assert.ok(NIC_NAME.test(ok), ok);
    for (const bad of ['', '1eth', 'abcdefghijklmnop', 'eth 1', 'eth:1', 'eth/1', 'ëth1', '-eth']) assert.ok(!NIC_NAME.test(bad), bad);
    const bridge = projectBridge('01a217e6-da2b-73f0-9b0b-dd7a0bdd1a29');
    assert.equal(bridge, 'crbdd7a0bdd1a29');
    assert.ok(NIC_NAME.test(bridge) && bridge.length <= 15);
  });
});
