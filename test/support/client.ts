import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}
export interface GqlResponse<T = any> {
  status: number;
  data?: T | null;
  errors?: GqlError[];
  headers: Headers;
}

/**
 * A GraphQL caller over real HTTP, as a browser (cookie jar) or a program (bearer token) would be.
 * `gql(doc, vars)` never throws on GraphQL errors: tests assert on codes.
 */
export class Caller {
  cookie: string | undefined;
  constructor(
    readonly baseUrl: string,
    public token?: string,
  ) {}

  async post(body: unknown, headers: Record<string, string> = {}): Promise<GqlResponse> {
    const res = await fetch(`${this.baseUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    for (const setCookie of res.headers.getSetCookie()) {
      const [pair] = setCookie.split(';');
      const [name, value] = pair!.split('=');
      if (name === 'corral_session') this.cookie = value ? `${name}=${value}` : undefined;
    }
    const json = (await res.json().catch(() => ({}))) as { data?: unknown; errors?: GqlError[] };
    return { status: res.status, data: json.data as any, errors: json.errors, headers: res.headers };
  }

  gql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<GqlResponse<T>> {
    return this.post({ query, variables });
  }

  /** Like gql, but fails the test with the errors when there are any. */
  async ok<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await this.gql<T>(query, variables);
    if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
    return res.data;
  }

  async login(email: string, password: string): Promise<this> {
    await this.ok(`mutation($email: String!, $password: String!) { login(email: $email, password: $password) { id } }`, { email, password });
    return this;
  }

  /** A graphql-ws client authenticated like this caller (cookie header or token connection parameter). */
  ws(options: { origin?: string } = {}): Client {
    const url = this.baseUrl.replace(/^http/, 'ws') + '/graphql';
    const cookie = this.cookie;
    const token = this.token;
    class AuthedWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { ...(cookie ? { cookie } : {}), ...(options.origin ? { origin: options.origin } : {}) } });
      }
    }
    return createClient({
      url,
      webSocketImpl: AuthedWebSocket,
      connectionParams: token ? { authorization: `Bearer ${token}` } : {},
      retryAttempts: 0,
      lazy: true,
    });
  }
}

/** The first error code of a response, for assertions. */
export const codeOf = (res: GqlResponse) => res.errors?.[0]?.extensions?.code;
