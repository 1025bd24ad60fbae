import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const PORTAL_DIR = path.resolve(__dirname, '../../../portal');

/**
 * The Next.js portal, served by this process on the same origin as `/graphql`. It must have
 * been built (`npm run build`, which `npm start` runs first).
 */
export async function loadPortal(production: boolean) {
  if (!fs.existsSync(path.join(PORTAL_DIR, '.next', 'BUILD_ID'))) {
    throw new Error(`the portal is not built: run "npm run build" (looked in ${PORTAL_DIR}/.next)`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nextModule = require('next') as typeof import('next') & { default?: typeof import('next').default };
  const createNext = (nextModule.default ?? nextModule) as unknown as typeof import('next').default;
  const app = createNext({ dev: false, dir: PORTAL_DIR, quiet: production });
  // Next 16's prepare() swaps the global Date for a wrapper (for its prerendering of dynamic
  // time). TypeORM recognises date columns by `type === Date`, captured at decoration time, so
  // with the wrapper every Date column comes back as a string. The portal needs no wrapper.
  const NativeDate = globalThis.Date;
  await app.prepare();
  if (globalThis.Date !== NativeDate) {
    globalThis.Date = NativeDate;
    Object.defineProperty(NativeDate.prototype, 'constructor', { value: NativeDate, writable: true, configurable: true });
  }
  const handle = app.getRequestHandler();
  return {
    handle: (req: IncomingMessage, res: ServerResponse) => handle(req, res),
    close: () => app.close(),
  };
}
