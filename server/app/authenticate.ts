import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseCookies } from 'cookie';
import type { Actor, RequestMeta } from './actor';
import type { Services } from './services';

export const SESSION_COOKIE = 'corral_session';

export const sessionSecretOf = (headers: IncomingHttpHeaders): string | undefined =>
  headers.cookie ? parseCookies(headers.cookie)[SESSION_COOKIE] : undefined;

const bearerOf = (value: unknown): string | undefined => {
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return match?.[1];
};

/**
 * The one authentication path for HTTP and WebSocket: a bearer token (header, or the
 * `authorization` connection parameter on WebSocket) wins over the session cookie.
 * A bearer that does not check out is not silently replaced by the cookie.
 */
export async function authenticate(
  services: Services,
  request: RequestMeta,
  headers: IncomingHttpHeaders,
  connectionParams?: Record<string, unknown>,
): Promise<Actor | null> {
  const bearer = bearerOf(headers.authorization) ?? bearerOf(connectionParams?.authorization);
  if (bearer) return services.apiTokens.authenticate(bearer, request);
  const secret = sessionSecretOf(headers);
  return secret ? services.sessions.authenticate(secret, request) : null;
}
