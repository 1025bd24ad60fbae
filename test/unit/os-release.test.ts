import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CorralError } from '../../server/app/errors';
import { checkSupportedOs, parseOsRelease } from '../../server/provisioning/os-release';

const release = (id: string, version: string, pretty: string) => `PRETTY_NAME="${pretty}"\nNAME="x"\nVERSION_ID="${version}"\nID=${id}\nHOME_URL="https://example.org/"\n`;

test('Debian 12 and Ubuntu 20.04, 22.04 and 24.04 are accepted', () => {
  assert.equal(checkSupportedOs(release('debian', '12', 'Debian GNU/Linux 12 (bookworm)')).name, 'Debian GNU/Linux 12 (bookworm)');
  for (const v of ['20.04', '22.04', '24.04']) assert.equal(checkSupportedOs(release('ubuntu', v, `Ubuntu ${v} LTS`)).versionId, v);
});

test('Debian 11, Ubuntu 18.04, CentOS and a file without ID are refused with UNSUPPORTED_OS naming what was found', () => {
  for (const [text, named] of [
    [release('debian', '11', 'Debian GNU/Linux 11 (bullseye)'), 'Debian GNU/Linux 11 (bullseye)'],
    [release('ubuntu', '18.04', 'Ubuntu 18.04.6 LTS'), 'Ubuntu 18.04.6 LTS'],
    [release('centos', '7', 'CentOS Linux 7 (Core)'), 'CentOS Linux 7 (Core)'],
    [release('debian', '13', 'Debian GNU/Linux 13 (trixie)'), 'Debian GNU/Linux 13 (trixie)'],
    ['', 'unknown'],
  ] as const) {
    assert.throws(
      () => checkSupportedOs(text),
      (error: unknown) => error instanceof CorralError && error.code === 'UNSUPPORTED_OS' && error.message.includes(named) && error.message.includes('Debian 12 and Ubuntu 20.04 or later'),
      named,
    );
  }
});

test('os-release values may be quoted either way or bare', () => {
  assert.deepEqual(parseOsRelease("ID='ubuntu'\nVERSION_ID=22.04\nPRETTY_NAME=\"Ubuntu \\\"Jammy\\\"\"\n"), { id: 'ubuntu', versionId: '22.04', name: 'Ubuntu "Jammy"' });
});
