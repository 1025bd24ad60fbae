import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, parse, type DocumentNode, specifiedRules, validate, NoSchemaIntrospectionCustomRule, type GraphQLSchema, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { DataSource } from 'typeorm';
import type { Actor } from './actor';
import { authenticate, sessionSecretOf } from './authenticate';
import type { Config } from './config';
import { createLoaders, type Context } from './context';
import { formatError, isExpectedError } from './error-mapping';
import { limitRules, queryLimits } from './limits';
import type { Logger } from './logger';
import type { Services } from './services';
import { newId } from '../common/ids';

type Extra = {
  actor?: Actor;
  reauthenticate?: () => Promise<Actor | null>;
};

/**
 * graphql-ws on `/graphql`, sharing the HTTP server's port. A connection authenticates once,
 * like HTTP (cookie or a bearer token in the connection parameters); graphql-ws closes it with
 * 4403 when `onConnect` refuses. A cookie is only accepted from the same origin, because
 * browsers send cookies on cross-site WebSocket handshakes too.
 */
export function attachWebSocket(httpServer: Server, deps: { schema: GraphQLSchema; db: DataSource; services: Services; config: Config; log: Logger }) {
  const { schema, db, services, config, log } = deps;
  // noServer: the HTTP server's one upgrade listener (server.ts) routes by path, so that /graphql
  // and /console/… share the port (ws answers 400 to every path but its own when it listens itself).
  void httpServer;
  const wss = new WebSocketServer({ noServer: true, path: '/graphql', maxPayload: queryLimits.documentBytes });
  const rules = [...specifiedRules, ...limitRules, ...(config.production ? [NoSchemaIntrospectionCustomRule] : [])];
  const format = (result: ExecutionResult): ExecutionResult =>
    result.errors ? { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e) as GraphQLError) } : result;

  /** Valid documents by their text (validation depends on the document alone), at most 1000. */
  const documents = new Map<string, DocumentNode>();
  const cleanup = useServer<Record<string, unknown>, Extra>(
    {
      schema,
      onConnect: async (ctx) => {
        const req = ctx.extra.request;
        const request = { id: newId(), sourceAddress: req.socket.remoteAddress ?? null };
        const usesCookie = !!sessionSecretOf(req.headers) && !ctx.connectionParams?.authorization;
        if (usesCookie && req.headers.origin && new URL(req.headers.origin).host !== req.headers.host) return false;
        const actor = await authenticate(services, request, req.headers, ctx.connectionParams);
        if (!actor) return false;
        ctx.extra.actor = actor;
        ctx.extra.reauthenticate = () => authenticate(services, request, req.headers, ctx.connectionParams);
        return true;
      },
      context: (ctx): Context => ({
        actor: ctx.extra.actor ?? null,
        request: { id: newId(), sourceAddress: ctx.extra.request.socket.remoteAddress ?? null },
        services,
        loaders: createLoaders(db, services),
        http: null,
        reauthenticate: ctx.extra.reauthenticate,
      }),
      onSubscribe: (_ctx, _id, payload) => {
        // Many subscribers send the same document: it is parsed and validated once and shared (bench:subscribers).
        const known = documents.get(payload.query);
        if (known) return { schema, document: known, variableValues: payload.variables, operationName: payload.operationName };
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [new GraphQLError((error as GraphQLError).message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const errors = validate(schema, document, rules);
        if (errors.length > 0) {
          return errors.map((e) => {
            // Label graphql-js's own findings as Apollo does over HTTP, so both transports answer alike.
            const labelled = e.extensions?.code ? e : new GraphQLError(e.message, { nodes: e.nodes, extensions: { ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' } });
            const formatted = formatError(labelled.toJSON(), labelled);
            // Apollo hides "Did you mean …" in production over HTTP; do the same here.
            const message = config.production ? formatted.message.replace(/ Did you mean .*$/, '') : formatted.message;
            return new GraphQLError(message, { extensions: { ...formatted.extensions, code: formatted.extensions?.code ?? 'GRAPHQL_VALIDATION_FAILED' } });
          });
        }
        if (documents.size >= 1000) documents.delete(documents.keys().next().value!);
        documents.set(payload.query, document);
        return { schema, document, variableValues: payload.variables, operationName: payload.operationName };
      },
      onNext: (_ctx, _id, _payload, _args, result) => format(result as ExecutionResult),
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((error) => {
          if (!isExpectedError(error)) log.error({ err: error.originalError ?? error }, 'internal error in a subscription');
          return formatError(error.toJSON(), error) as GraphQLFormattedError;
        }),
    },
    wss,
  );
  return {
    handles: (req: IncomingMessage) => wss.shouldHandle(req),
    upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
    async close() {
      await cleanup.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
