import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type ErrorRequestHandler, type Response } from 'express';
import type { DataSource, Logger as QueryLogger } from 'typeorm';
import { ensureProviderAdmin } from '../accounts/bootstrap';
import { newId } from '../common/ids';
import type { RequestMeta } from './actor';
import { authenticate, SESSION_COOKIE, sessionSecretOf } from './authenticate';
import type { Config } from './config';
import { createLoaders, type Context, type HttpSession } from './context';
import { createDataSource } from './data-source';
import { formatError, isExpectedError } from './error-mapping';
import { CorralError, ErrorCode } from './errors';
import { Permission } from '../auth/permissions';
import { limitRules, queryLimits } from './limits';
import type { Logger } from './logger';
import { loadPortal } from './portal';
import { createCorralPubSub } from './pubsub';
import { connectRedis, redisEventTarget } from './redis';
import { buildCorralSchema } from './schema';
import { createServices, type Services } from './services';
import type { NodeGateway } from '../nodes/node-gateway';
import { LxdGateway } from '../nodes/lxd-gateway';
import { attachWebSocket } from './websocket';
import { mountBackupDownload } from '../backups/backup-download';
import { consoleNodesFor } from '../containers/console.gateway';
import { attachConsole } from '../containers/console.socket';

export interface RunningServer {
  url: string;
  db: DataSource;
  services: Services;
  /** Stops taking requests, lets running ones finish, closes WebSockets and the database. */
  close(): Promise<void>;
}

/** Logs every error we did not expect, with the request id the client can quote. */
const logUnexpected = (log: Logger): ApolloServerPlugin<Context> => ({
  async requestDidStart() {
    return {
      async didEncounterErrors({ errors, contextValue }) {
        for (const error of errors) {
          if (!isExpectedError(error)) log.error({ err: error.originalError ?? error, requestId: contextValue.request.id }, 'internal error');
        }
      },
    };
  },
});

function httpSession(res: Response, secret: string | undefined, secure: boolean): HttpSession {
  const options = { httpOnly: true, sameSite: 'lax' as const, secure, path: '/' };
  return {
    secret,
    set: (value, expiresAt) => res.cookie(SESSION_COOKIE, value, { ...options, expires: expiresAt }),
    clear: () => res.clearCookie(SESSION_COOKIE, options),
  };
}

export interface ServerOptions {
  /** Sees every SQL statement; tests count them to keep N+1 out. */
  queryLogger?: QueryLogger;
  /** How Corral reaches nodes; LXD over HTTPS unless a test brings its own. */
  gateway?: NodeGateway;
}

export async function startServer(config: Config, log: Logger, options: ServerOptions = {}): Promise<RunningServer> {
  // With REDIS_URL, Redis must answer before anything else starts (RedisUnavailableError otherwise).
  const redis = config.redis ? await connectRedis(config.redis, log) : null;
  const db = createDataSource(config.database, options.queryLogger);
  try {
    await db.initialize();
    await db.runMigrations({ transaction: 'all' });
    await ensureProviderAdmin(db, config, log);
  } catch (error) {
    if (db.isInitialized) await db.destroy();
    await redis?.close();
    throw error;
  }
  const pubsub = createCorralPubSub(redis ? redisEventTarget(redis, log) : undefined);
  const gateway = options.gateway ?? new LxdGateway(db, log);
  const services = createServices(db, config, pubsub, gateway, log, redis);
  await services.images.syncFromDirectory();
  const schema = await buildCorralSchema(pubsub);
  const portal = config.portal ? await loadPortal(config.production) : null;

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  const httpServer = http.createServer(app);
  const ws = attachWebSocket(httpServer, { schema, db, services, config, log });
  const consoles = attachConsole({ services, consoleNodes: consoleNodesFor(gateway), idleMs: config.console.idleMs, recheckMs: config.console.recheckMs, log });
  // WebSocket upgrades by path: GraphQL subscriptions and the browser console; anything else is refused.
  httpServer.on('upgrade', (req, socket, head) => {
    if (ws.handles(req)) ws.upgrade(req, socket, head);
    else if (consoles.handles(req)) consoles.upgrade(req, socket, head);
    else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  const apollo = new ApolloServer<Context>({
    schema,
    introspection: !config.production,
    hideSchemaDetailsFromClientErrors: config.production,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    validationRules: limitRules,
    formatError,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      { async serverWillStart() { return { drainServer: async () => void (await Promise.all([ws.close(), consoles.close()])) }; } },
      logUnexpected(log),
      ...(config.production ? [ApolloServerPluginLandingPageDisabled()] : []),
    ],
  });
  await apollo.start();

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await db.query('SELECT 1');
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'database unreachable' });
    }
  });

  const tooLarge: ErrorRequestHandler = (error, _req, res, next) => {
    if ((error as { type?: string }).type !== 'entity.too.large') return next(error);
    res.status(413).json({
      errors: [{ message: `Request body over ${queryLimits.documentBytes} bytes`, extensions: { code: ErrorCode.QUERY_LIMIT_EXCEEDED, limit: 'documentBytes' } }],
    });
  };
  app.use(
    '/graphql',
    express.json({ limit: queryLimits.documentBytes }),
    tooLarge,
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<Context> => {
        const request: RequestMeta = { id: newId(), sourceAddress: req.ip ?? null };
        res.setHeader('x-request-id', request.id);
        // A failure here never reaches the Apollo plugins, so it is logged where it happens.
        const actor = await authenticate(services, request, req.headers).catch((error: unknown) => {
          log.error({ err: error, requestId: request.id }, 'internal error while authenticating');
          throw error;
        });
        return {
          actor,
          request,
          services,
          loaders: createLoaders(db, services),
          http: httpSession(res, sessionSecretOf(req.headers), req.secure),
        };
      },
    }),
  );
  // Image upload: the tarball is the raw body. application/octet-stream cannot be sent cross-site
  // without a CORS preflight, which this server never grants, so a session cookie is safe here.
  app.put('/images/:name', async (req, res) => {
    const request: RequestMeta = { id: newId(), sourceAddress: req.ip ?? null };
    res.setHeader('x-request-id', request.id);
    const fail = (status: number, code: string, message: string) => res.status(status).json({ errors: [{ message, extensions: { code } }] });
    if (req.headers['content-type'] !== 'application/octet-stream') return fail(415, ErrorCode.BAD_USER_INPUT, 'send the image tarball as application/octet-stream');
    const actor = await authenticate(services, request, req.headers);
    if (!actor) return fail(401, ErrorCode.UNAUTHENTICATED, 'Sign in first');
    if (!actor.permissions.has(Permission.INFRASTRUCTURE_WRITE)) return fail(403, ErrorCode.FORBIDDEN, 'missing permission INFRASTRUCTURE_WRITE');
    try {
      const image = await services.images.upload(actor, String(req.params.name), req);
      res.status(201).json({ data: { image } });
    } catch (error) {
      if (error instanceof CorralError) return fail(error.code === ErrorCode.CONFLICT ? 409 : 400, error.code, error.message);
      log.error({ err: error, requestId: request.id }, 'internal error in image upload');
      fail(500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal error');
    }
  });
  mountBackupDownload(app, services, log);
  if (portal) app.use((req, res) => portal.handle(req, res));

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, resolve);
  });
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  // Workers start once the API answers: the operation runner (which also picks up operations
  // left unfinished by a stopped process) and the node watch (events, reconcile, health).
  services.runner.start();
  services.nodeWatch.start();
  services.backupScheduler.start();
  services.metricsSampler.start();
  // Corral's nftables table survives an LXD restart but not a node reboot: put it back on every managed node once.
  services.firewall.reconcileAll().catch((err: unknown) => log.warn({ err }, 'firewall: reconcile at start failed'));
  log.info({ url, database: config.database.kind, pubsub: redis ? 'redis' : 'in-process', portal: !!portal }, 'corral is listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    db,
    services,
    close: () =>
      (closing ??= (async () => {
        services.nodeWatch.stop();
        await services.backupScheduler.stop();
        await services.metricsSampler.stop();
        await apollo.stop();
        await services.runner.stop();
        services.nodeShell.close();
        await gateway.close();
        await portal?.close();
        if (db.isInitialized) await db.destroy();
        await redis?.close();
      })()),
  };
}
