import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildCorralSchema } from '../server/app/schema';

/**
 * `npm run schema:emit` writes schema.graphql from the code; `npm run schema:check` fails when
 * the committed file differs from what the code would emit.
 */
const FILE = path.resolve(__dirname, '../../schema.graphql');
const HEADER = '# Emitted from server/ by `npm run schema:emit`. Do not edit; `npm run schema:check` fails on drift.\n\n';

async function main() {
  const emitted = HEADER + printSchema(lexicographicSortSchema(await buildCorralSchema())) + '\n';
  const command = process.argv[2];
  if (command === 'emit') {
    fs.writeFileSync(FILE, emitted);
    console.log(`wrote ${path.basename(FILE)}`);
  } else if (command === 'check') {
    const committed = fs.existsSync(FILE) ? fs.readFileSync(FILE, 'utf8') : '';
    if (committed !== emitted) {
      console.error('schema.graphql differs from the schema the code builds: run "npm run schema:emit" and commit it');
      process.exit(1);
    }
    console.log('schema.graphql matches the code');
  } else {
    throw new Error('usage: schema emit | check');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
