import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server';

/**
 * The portal in a real browser (Debian's chromium), served by a real Corral on the same origin
 * as /graphql: signing in and out through the forms, and the session cookie kept from scripts.
 * Needs `npm run build` first (the server refuses to start with an unbuilt portal).
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/portal-home.png';

let server: TestServer | undefined;
let browser: Browser | undefined;

before(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing; the browser tests need it: apt-get install chromium`);
  }
  server = await startTestServer('sqlite', { CORRAL_PORTAL: 'true' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A fresh, signed-out browser tab on the test server. */
async function newPage(): Promise<Page> {
  assert.ok(browser && server, 'the browser and the server are running');
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1024, height: 640 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

const at = (pathname: string) => (url: URL) => url.pathname === pathname;

async function submitLogin(page: Page, email: string, password: string) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function signInThroughTheForm(page: Page) {
  await page.goto('/login');
  await submitLogin(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await page.waitForURL(at('/'));
  // The home page shows either the user or, when `me` fails for another reason than being signed out, an alert.
  const problem = page.locator('main').getByRole('alert');
  await page.getByTestId('me-email').or(problem).waitFor();
  if ((await problem.count()) > 0) assert.fail(`the home page shows an error instead of the user: ${await problem.textContent()}`);
}

test('visiting / when signed out lands on /login', async () => {
  const page = await newPage();
  await page.goto('/');
  await page.waitForURL(at('/login'));
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assert.equal(await page.getByTestId('me-email').count(), 0);
});

test('a wrong password shows an alert and stays on /login', async () => {
  const page = await newPage();
  await page.goto('/login');
  await submitLogin(page, ADMIN_EMAIL, 'not the password');
  // Scoped to <main>: Next's route announcer is also a role="alert" (in a shadow root).
  const alert = page.locator('main').getByRole('alert');
  await alert.waitFor();
  assert.match((await alert.textContent()) ?? '', /wrong email or password/i);
  assert.equal(new URL(page.url()).pathname, '/login');
  const cookies = await page.context().cookies();
  assert.equal(cookies.find((c) => c.name === 'corral_session'), undefined, 'no session after a failed sign-in');
});

test('signing in as the provider admin through the form shows who is signed in, with an httpOnly session cookie scripts cannot read', async () => {
  const page = await newPage();
  await signInThroughTheForm(page);

  assert.equal(await page.getByTestId('me-email').textContent(), ADMIN_EMAIL);
  assert.equal(await page.getByTestId('me-role').textContent(), 'PROVIDER_ADMIN');
  assert.equal(await page.getByTestId('account-kind').textContent(), 'PROVIDER');
  assert.ok(((await page.getByTestId('account-name').textContent()) ?? '').length > 0, 'the account has a name');

  const session = (await page.context().cookies()).find((c) => c.name === 'corral_session');
  assert.ok(session, 'the corral_session cookie is set');
  assert.equal(session.httpOnly, true);
  const scriptVisible = await page.evaluate<string>('document.cookie');
  assert.ok(!scriptVisible.includes('corral_session'), `document.cookie must not show the session: ${scriptVisible}`);

  await page.screenshot({ path: SCREENSHOT });
});

test('signing out returns to /login, and / then redirects to /login again', async () => {
  const page = await newPage();
  await signInThroughTheForm(page);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(at('/login'));
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  const cookies = await page.context().cookies();
  assert.equal(cookies.find((c) => c.name === 'corral_session'), undefined, 'the session cookie is cleared');

  await page.goto('/');
  await page.waitForURL(at('/login'));
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
});
