import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Caller } from '../support/client';
import { createAccount, signInAsAdmin, signInAsNewUser } from '../support/factories';
import { forEachDatabase, startTestServer, type TestServer } from '../support/server';

forEachDatabase((TEST_DB) => {
  describe(`the image repository (${TEST_DB})`, () => {
    let server: TestServer;
    let imageDir: string;
    before(async () => {
      imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-images-'));
      fs.writeFileSync(path.join(imageDir, 'preloaded.tar.gz'), 'a tarball that was there before the start');
      fs.writeFileSync(path.join(imageDir, 'Not An Image.txt'), 'ignored');
      server = await startTestServer(TEST_DB, { CORRAL_IMAGE_DIR: imageDir });
    });
    after(() => server.stop());

    const upload = (caller: Caller, name: string, body: Buffer, contentType = 'application/octet-stream') =>
      fetch(`${server.url}/images/${name}`, { method: 'PUT', headers: { 'content-type': contentType, ...(caller.cookie ? { cookie: caller.cookie } : {}) }, body });

    test('tarballs in CORRAL_IMAGE_DIR are images at start, named after the file, fingerprinted by content', async () => {
      const admin = await signInAsAdmin(server.url);
      const images = (await admin.ok(`{ images { edges { node { name fingerprint sizeBytes } } } }`)).images.edges.map((e: any) => e.node);
      assert.deepEqual(images.map((i: any) => i.name), ['preloaded']);
      assert.equal(images[0].fingerprint, createHash('sha256').update('a tarball that was there before the start').digest('hex'));
    });

    test('a provider admin uploads an image through the API; it is stored in the repository and listed', async () => {
      const admin = await signInAsAdmin(server.url);
      const content = randomBytes(4096);
      const res = await upload(admin, 'uploaded', content);
      assert.equal(res.status, 201, await res.clone().text());
      const { data } = (await res.json()) as any;
      assert.equal(data.image.fingerprint, createHash('sha256').update(content).digest('hex'));
      assert.deepEqual(fs.readFileSync(path.join(imageDir, 'uploaded.tar.gz')), content);
      const names = (await admin.ok(`{ images { edges { node { name } } } }`)).images.edges.map((e: any) => e.node.name);
      assert.ok(names.includes('uploaded'));
      assert.equal((await upload(admin, 'uploaded', randomBytes(10))).status, 409);
      assert.equal((await upload(admin, 'Bad Name', randomBytes(10))).status, 400);
      assert.equal((await upload(admin, 'plain', randomBytes(10), 'text/plain')).status, 415);
      assert.ok(!fs.readdirSync(imageDir).some((f) => f.startsWith('.upload-')), 'no partial uploads left behind');
    });

    test('nobody else may upload or delete images', async () => {
      const admin = await signInAsAdmin(server.url);
      const customer = await createAccount(admin, 'CUSTOMER');
      const { caller: owner } = await signInAsNewUser(admin, customer.id, 'CUSTOMER_OWNER');
      assert.equal((await upload(owner, 'sneaky', randomBytes(10))).status, 403);
      assert.equal((await upload(new Caller(server.url), 'anon', randomBytes(10))).status, 401);
      assert.ok(!fs.existsSync(path.join(imageDir, 'sneaky.tar.gz')));
      const id = (await owner.ok(`{ images { edges { node { id name } } } }`)).images.edges.find((e: any) => e.node.name === 'preloaded').node.id;
      const res = await owner.gql(`mutation($id: ID!) { deleteImage(id: $id) { id } }`, { id });
      assert.equal(res.errors?.[0]?.extensions?.code, 'FORBIDDEN');
      const gone = await admin.ok(`mutation($id: ID!) { deleteImage(id: $id) { name } }`, { id });
      assert.equal(gone.deleteImage.name, 'preloaded');
      assert.ok(!fs.existsSync(path.join(imageDir, 'preloaded.tar.gz')));
    });
  });
});
