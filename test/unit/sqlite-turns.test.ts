import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../server/app/data-source';

/** The embedded database is one connection: what runs beside a transaction must not end up inside it. */
let db: DataSource;
before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-turns-'));
  db = createDataSource({ kind: 'sqlite', file: path.join(dir, 'turns.sqlite') });
  await db.initialize();
  await db.query('CREATE TABLE notes (text TEXT NOT NULL)');
});
after(() => db?.destroy());
const notes = async () => ((await db.query('SELECT text FROM notes ORDER BY text')) as { text: string }[]).map((r) => r.text);

test('a write made while another transaction is open survives that transaction’s rollback', async () => {
  await db.query('DELETE FROM notes');
  let opened!: () => void;
  const isOpen = new Promise<void>((resolve) => (opened = resolve));
  const refused = db.transaction(async (em) => {
    await em.query(`INSERT INTO notes (text) VALUES ('refused')`);
    opened();
    await sleep(50);
    throw new Error('refused');
  });
  await isOpen;
  // A lone write and a save-like transaction of their own, made while the other is open.
  const lone = db.query(`INSERT INTO notes (text) VALUES ('lone')`);
  const own = db.manager.transaction((em) => em.query(`INSERT INTO notes (text) VALUES ('own')`));
  await assert.rejects(refused, /refused/);
  await Promise.all([lone, own]);
  assert.deepEqual(await notes(), ['lone', 'own']);
});

test('transactions take turns: interleaved ones all commit, each whole', async () => {
  await db.query('DELETE FROM notes');
  await Promise.all(
    ['a', 'b', 'c'].map((name) =>
      db.transaction(async (em) => {
        await em.query(`INSERT INTO notes (text) VALUES ('${name}1')`);
        await sleep(10);
        // Nested calls through the data source inside a turn pass instead of waiting for themselves.
        await db.query(`INSERT INTO notes (text) VALUES ('${name}2')`);
      }),
    ),
  );
  assert.deepEqual(await notes(), ['a1', 'a2', 'b1', 'b2', 'c1', 'c2']);
});
