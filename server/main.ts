import 'reflect-metadata';
import { ConfigError, loadConfig } from './app/config';
import { createLogger } from './app/logger';
import { startServer } from './app/server';

/** `npm start`: one process serving the API, WebSockets and the portal. */
async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config);
  const server = await startServer(config, log);
  const stop = (signal: string) => {
    log.info({ signal }, 'draining');
    server.close().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`corral failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
