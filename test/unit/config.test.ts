import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../server/app/config';

test('with no environment, Corral runs on SQLite in ./data on port 3000', () => {
  const config = loadConfig({});
  assert.equal(config.port, 3000);
  assert.deepEqual(config.database, { kind: 'sqlite', file: path.resolve('data', 'corral.sqlite') });
  assert.equal(config.production, false);
  assert.equal(config.portal, true);
});

test('the backup archive defaults to a backups directory in the data directory, beside the SQLite file and the images', () => {
  assert.equal(loadConfig({ CORRAL_DATA_DIR: '/srv/corral' }).backups.archiveDir, '/srv/corral/backups');
  assert.equal(loadConfig({ CORRAL_DATA_DIR: '/srv/corral', CORRAL_BACKUP_ARCHIVE_DIR: 'archive' }).backups.archiveDir, path.resolve('archive'));
});

test('DATABASE_URL switches to PostgreSQL', () => {
  assert.deepEqual(loadConfig({ DATABASE_URL: 'postgres://u@db/corral' }).database, { kind: 'postgres', url: 'postgres://u@db/corral' });
});

test('each bad value is refused with one line that names the variable', () => {
  const bad: Record<string, string> = {
    PORT: '70000',
    NODE_ENV: 'staging',
    DATABASE_URL: 'mysql://db',
    CORRAL_ADMIN_EMAIL: 'not-an-email',
    CORRAL_ADMIN_PASSWORD: 'short',
    CORRAL_SESSION_IDLE_MINUTES: '0',
    CORRAL_TRUST_PROXY: 'perhaps',
    LOG_LEVEL: 'loud',
  };
  for (const [name, value] of Object.entries(bad)) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (error: unknown) => error instanceof ConfigError && error.message.startsWith(`invalid configuration: ${name}=`) && !error.message.includes('\n'),
      name,
    );
  }
});

test('NODE_ENV=production turns production behaviour on', () => {
  assert.equal(loadConfig({ NODE_ENV: 'production' }).production, true);
});
