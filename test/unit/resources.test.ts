import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { capabilitiesFrom, parseSize } from '../../server/containers/resources.gateway';
import { limitsConfig } from '../../server/containers/resources.operations';

describe('live resources: how Corral speaks to LXD', () => {
  test('a CPU limit in percent becomes a CFS allowance (a hard cap), never LXD’s percent (a weight)', () => {
    assert.deepEqual(limitsConfig({ cpu: 2, memoryMiB: 96, cpuLimitPercent: 150, cpuWeight: 0 }), {
      'limits.cpu': '2',
      'limits.memory': `${96 * 1024 * 1024}B`,
      'limits.cpu.allowance': '150ms/100ms',
      'limits.cpu.priority': '0',
    });
    assert.deepEqual(limitsConfig({ cpuWeight: 7 }), { 'limits.cpu.priority': '7' });
  });

  test('sizes read back from LXD parse in bytes, and unknown forms are not guessed', () => {
    assert.equal(parseSize('268435456B'), 256 * 1024 * 1024);
    assert.equal(parseSize('256MiB'), 256 * 1024 * 1024);
    assert.equal(parseSize('1GB'), 1e9);
    assert.equal(parseSize(undefined), null);
    assert.equal(parseSize('lots'), null);
  });

  test('capabilities: LXD’s own warnings about missing cgroup controllers make those limits unsupported; dir pools enforce no quota', () => {
    const warnings = [
      { type: "Couldn't find the CGroup blkio.weight", message: 'disk priority will be ignored', status: 'new', severity: 'low', project: '' },
      { type: "Couldn't find the CGroup network priority controller", message: 'network priority will be ignored', status: 'new', severity: 'low', project: '' },
      { type: "Couldn't find the CGroup memory controller", message: 'memory limits will be ignored', status: 'resolved', severity: 'low', project: '' },
    ];
    const caps = capabilitiesFrom('btrfs', warnings);
    assert.deepEqual(
      { diskQuota: caps.diskQuota, cpuAllowance: caps.cpuAllowance, memoryLimit: caps.memoryLimit, blkioWeight: caps.blkioWeight, blkioThrottle: caps.blkioThrottle, netPrio: caps.netPrio },
      { diskQuota: true, cpuAllowance: true, memoryLimit: true, blkioWeight: false, blkioThrottle: true, netPrio: false },
    );
    assert.ok(caps.reasons.some((r) => r.startsWith('blkioWeight:')));
    assert.equal(capabilitiesFrom('dir', []).diskQuota, false);
    assert.equal(capabilitiesFrom(null, []).diskQuota, false);
  });
});
