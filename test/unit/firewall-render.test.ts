import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { renderNodeFirewall, type FirewallContainer } from '../../server/firewall/render';

const web: FirewallContainer = {
  id: '0190a1b2-c3d4-7e5f-8a6b-1c2d3e4f5a6b',
  hostInterface: 'cr0190a1b2c3d47',
  addresses: [
    { address: '2001:db8::10', family: 6 },
    { address: '198.51.100.10', family: 4 },
  ],
  tcpConnectionLimit: 2,
  inboundPorts: [
    { protocol: 'TCP', from: 8050, to: 9000 },
    { protocol: 'TCP', from: 22, to: 22 },
    { protocol: 'TCP', from: 8000, to: 8100 },
    { protocol: 'UDP', from: 53, to: 53 },
  ],
};
const closed: FirewallContainer = {
  id: '0190a1b2-c3d4-7e5f-8a6b-1c2d3e4f5a6c',
  hostInterface: 'cr0190a1b2c3d48',
  addresses: [{ address: '198.51.100.11', family: 4 }],
  tcpConnectionLimit: null,
  inboundPorts: [],
};
const v6only: FirewallContainer = {
  id: '0190a1b2-c3d4-7e5f-8a6b-1c2d3e4f5a6d',
  hostInterface: 'cr0190a1b2c3d49',
  addresses: [{ address: '2001:db8::12', family: 6 }],
  tcpConnectionLimit: null,
  inboundPorts: null,
};
const noAddresses: FirewallContainer = { id: '0190a1b2-c3d4-7e5f-8a6b-1c2d3e4f5a6e', hostInterface: 'cr0190a1b2c3d4e', addresses: [], tcpConnectionLimit: 5, inboundPorts: null };

describe('the node firewall renderer', () => {
  test('writes Corral’s own table, replaced in one batch, never LXD’s', () => {
    const { script } = renderNodeFirewall([web]);
    assert.ok(script.startsWith('table inet corral {}\ndelete table inet corral\ntable inet corral {\n'));
    assert.doesNotMatch(script, /inet lxd/);
  });

  test('drops packets from a container’s interface unless they come from its own addresses (IPv6 link-local and :: allowed)', () => {
    const { script } = renderNodeFirewall([web, v6only]);
    const key = 'c_0190a1b2c3d47e5f8a6b1c2d3e4f5a6b';
    assert.match(script, /type filter hook prerouting priority raw - 1; policy accept;/);
    assert.match(script, new RegExp(`set ${key}_v4 \\{\\n\\t\\ttype ipv4_addr\\n\\t\\telements = \\{ 198\\.51\\.100\\.10 \\}`));
    assert.match(script, new RegExp(`iifname "cr0190a1b2c3d47" ip saddr != @${key}_v4 counter drop`));
    assert.match(script, new RegExp(`iifname "cr0190a1b2c3d47" ip6 saddr != \\{ ::, fe80::/10 \\} ip6 saddr != @${key}_v6 counter drop`));
    // A container without IPv4 addresses may not send IPv4 at all.
    assert.match(script, /iifname "cr0190a1b2c3d49" meta nfproto ipv4 counter drop/);
  });

  test('checks inbound ports, then counts TCP connections, once per container over all its addresses, on new connections only', () => {
    const { script } = renderNodeFirewall([web, closed]);
    const key = 'c_0190a1b2c3d47e5f8a6b1c2d3e4f5a6b';
    assert.match(script, /chain forward \{\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tct state new jump inbound\n\t\}/);
    assert.match(script, /chain output \{\n\t\ttype filter hook output priority filter; policy accept;\n\t\tct state new jump inbound\n\t\}/);
    assert.match(script, new RegExp(`ip daddr @${key}_v4 jump ${key}\\n\\t\\tip6 daddr @${key}_v6 jump ${key}`));
    // Overlapping and adjacent ranges are merged and sorted.
    assert.match(
      script,
      new RegExp(`chain ${key} \\{\\n\\t\\ttcp dport != \\{ 22, 8000-9000 \\} counter reject with tcp reset\\n\\t\\tudp dport != \\{ 53 \\} counter reject\\n\\t\\tmeta l4proto tcp ct count over 2 counter reject with tcp reset\\n\\t\\}`),
    );
    assert.equal(script.match(/ct count/g)?.length, 1);
    // An empty list closes every TCP and UDP port.
    assert.match(script, /chain c_0190a1b2c3d47e5f8a6b1c2d3e4f5a6c \{\n\t\tmeta l4proto tcp counter reject with tcp reset\n\t\tmeta l4proto udp counter reject\n\t\}/);
  });

  test('leaves out containers without addresses, and inbound chains when nobody has settings', () => {
    const { script } = renderNodeFirewall([v6only, noAddresses]);
    assert.doesNotMatch(script, /cr0190a1b2c3d4e|hook forward|hook output/);
    const empty = renderNodeFirewall([]);
    assert.match(empty.script, /^table inet corral \{\}\ndelete table inet corral\ntable inet corral \{\n\tcomment "corral:[0-9a-f]{32}"\n\}\n$/);
  });

  test('is deterministic: the same containers in any order give the same text and hash; a change gives another hash', () => {
    const a = renderNodeFirewall([web, closed, v6only]);
    const b = renderNodeFirewall([v6only, { ...closed }, { ...web, addresses: [...web.addresses].reverse() }]);
    assert.equal(a.script, b.script);
    assert.equal(a.hash, b.hash);
    assert.match(a.script, new RegExp(`comment "corral:${a.hash}"`));
    assert.notEqual(renderNodeFirewall([web, closed, { ...v6only, tcpConnectionLimit: 3 }]).hash, a.hash);
  });

  test('refuses input that could smuggle text into the ruleset', () => {
    assert.throws(() => renderNodeFirewall([{ ...web, hostInterface: 'eth0" accept' }]), /interface name/);
    assert.throws(() => renderNodeFirewall([{ ...web, addresses: [{ address: '198.51.100.10 }', family: 4 }] }]), /IPv4 address/);
    assert.throws(() => renderNodeFirewall([{ ...web, id: 'x; flush ruleset' }]), /container id/);
  });

  describe('nft accepts the output (check mode, in a scratch network namespace)', () => {
    const netns = `corral-fwtest-${process.pid}`;
    before(() => execFileSync('ip', ['netns', 'add', netns]));
    after(() => execFileSync('ip', ['netns', 'delete', netns]));
    const nft = (args: string[], input: string) => spawnSync('ip', ['netns', 'exec', netns, 'nft', ...args], { input, encoding: 'utf8', timeout: 10_000 });

    test('for a node with several containers, and for an empty node', () => {
      for (const containers of [[web, closed, v6only, noAddresses], []]) {
        const checked = nft(['-c', '-f', '-'], renderNodeFirewall(containers).script);
        assert.equal(checked.status, 0, checked.stderr);
      }
    });

    test('and a second batch replaces the first in place (applied in the scratch namespace only)', () => {
      for (const containers of [[web, closed], [v6only], [web, closed]]) {
        const applied = nft(['-f', '-'], renderNodeFirewall(containers).script);
        assert.equal(applied.status, 0, applied.stderr);
      }
      const listed = nft(['list', 'table', 'inet', 'corral'], '');
      assert.match(listed.stdout, new RegExp(`comment "corral:${renderNodeFirewall([web, closed]).hash}"`));
      assert.match(listed.stdout, /ct count over 2/);
    });
  });
});
