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
  await app.prepare();
  const handle = app.getRequestHandler();
  return {
    handle: (req: IncomingMessage, res: ServerResponse) => handle(req, res),
    close: () => app.close(),
  };
}
