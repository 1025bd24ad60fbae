import 'reflect-metadata';
import { ConfigError, loadConfig } from './app/config';
import { createDataSource } from './app/data-source';

/** `npm run migrate`: applies pending migrations to the configured database, then exits. */
async function main() {
  const config = loadConfig();
  const db = createDataSource(config.database);
  await db.initialize();
  try {
    const applied = await db.runMigrations({ transaction: 'all' });
    console.log(applied.length ? `applied ${applied.map((m) => m.name).join(', ')}` : 'the database is up to date');
  } finally {
    await db.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
