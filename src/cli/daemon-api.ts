/**
 * Talking to a running daemon from the CLI: its address from the config (server.host/port) unless
 * --url says otherwise, JSON calls whose failures say what the daemon said, and an SSE reader.
 */
import { InvalidArgumentError } from 'commander';
import type { Config } from '../config/schema.ts';

/** The daemon's address as the config has it; a wildcard listen address is reached on loopback. */
export function daemonUrl(config: { server: Pick<Config['server'], 'host' | 'port'> }): string {
  const host = ['0.0.0.0', '::', '[::]'].includes(config.server.host) ? '127.0.0.1' : config.server.host;
  return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${config.server.port}`;
}

/**
 * The parser of an option naming a daemon (--url, --remote, --daemon): an http(s) address, refused
 * when parsed, naming the option, rather than later as a daemon unreachable at "Invalid URL".
 */
export function daemonAddress(flag: string): (v: string) => string {
  return (v) => {
    let url: URL | null;
    try {
      url = new URL(v);
    } catch {
      url = null;
    }
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new InvalidArgumentError(`${flag} must be the daemon's http:// or https:// address, e.g. http://127.0.0.1:9840, got "${v}"`);
    return v;
  };
}

/** methods whose request may be sent twice with one effect (RFC 9110 9.2.2) */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** the connection was closed under the request before any answer: undici's "other side closed", a reset, a broken pipe */
const CLOSED_UNDER_US = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNRESET', 'EPIPE']);

function closedUnderUs(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && CLOSED_UNDER_US.has(e.code)) return true;
  }
  return false;
}

/**
 * fetch, once more on a fresh connection when an idempotent request found its kept-alive connection
 * closed before any answer. The daemon closes a connection idle for server.keepAliveTimeoutMs (5 s)
 * and says so (Keep-Alive: timeout=5); fetch (undici) stops reusing one a second before that, by its
 * own coarse timers. Under load the two cross: a request goes out on a socket the daemon has just
 * closed and fails "other side closed" (seen once by the e2e --remote render, after an upload, an
 * event stream and a render's worth of idle). Nothing was answered, so for a GET, a DELETE or a PUT
 * the same request again is the same request; a POST or PATCH is not sent twice. The second try
 * does not go through fetch's pool: it may hold more idle connections the daemon closed at the
 * same time (it opens a second one while the first is being released), and would hand one over.
 */
export async function daemonFetch(input: URL | string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(input, init);
  } catch (err) {
    const body = init.body;
    const resendable = body === undefined || body === null || typeof body === 'string';
    if (!IDEMPOTENT.has((init.method ?? 'GET').toUpperCase()) || !resendable || init.signal?.aborted || !closedUnderUs(err)) throw err;
    return onNewConnection(new URL(input), init, body ?? undefined);
  }
}

/** The request on a connection of its own (node's http, no agent), answered as fetch answers. */
async function onNewConnection(url: URL, init: RequestInit, body: string | undefined): Promise<Response> {
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const { Readable } = await import('node:stream');
  const method = (init.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => (headers[k] = v));
  return new Promise<Response>((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      const status = res.statusCode ?? 502;
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) for (const x of v === undefined ? [] : [v].flat()) h.append(k, x);
      const empty = method === 'HEAD' || status === 204 || status === 205 || status === 304;
      if (empty) res.resume();
      resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? '', headers: h }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * What a 401 leaves out: the daemon names its own config (server.auth.tokenFile), not where this
 * command looked for the token (src/api/client-token.ts).
 */
export function tokenHint(status: number): string {
  return status === 401 ? ' (this command sends GANCE_TOKEN, else the file GANCE_TOKEN_FILE names, else /etc/gance/token)' : '';
}

export class DaemonCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A JSON call; the API token goes with it (GANCE_TOKEN or its file, as `gance thermal` sends it):
 * a daemon with a token refuses every change without it. `flag`: the option that named the daemon,
 * for the hint when it cannot be reached.
 */
export async function call<T>(base: string, path: string, init: RequestInit = {}, timeoutMs = 10_000, flag = '--url'): Promise<T> {
  let res: Response;
  const headers = new Headers(init.headers);
  // loaded here, not at the top: --help loads command definitions only (test/cli/startup.test.ts)
  const { clientAuthHeaders } = await import('../api/client-token.ts');
  for (const [k, v] of Object.entries(clientAuthHeaders())) if (!headers.has(k)) headers.set(k, v);
  try {
    res = await daemonFetch(new URL(path, base), { ...init, headers, signal: init.signal ?? AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new Error(`cannot reach the daemon at ${base} (${cause}); is it running? (${flag})`);
  }
  const body = (await res.json().catch(() => ({}))) as T & { message?: string };
  if (!res.ok) throw new DaemonCallError(res.status, `${init.method ?? 'GET'} ${path}: ${res.status} ${body.message ?? res.statusText}${tokenHint(res.status)}`);
  return body;
}

export interface SseEvent {
  event: string;
  data: string;
}

/** The events of a text/event-stream body as they arrive (comments skipped). */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) yield { event, data: data.join('\n') };
    }
  }
}
