/**
 * Talking to a running daemon from the CLI: its address from the config (server.host/port) unless
 * --url says otherwise, JSON calls whose failures say what the daemon said, and an SSE reader.
 */
import type { Config } from '../config/schema.ts';

/** The daemon's address as the config has it; a wildcard listen address is reached on loopback. */
export function daemonUrl(config: { server: Pick<Config['server'], 'host' | 'port'> }): string {
  const host = ['0.0.0.0', '::', '[::]'].includes(config.server.host) ? '127.0.0.1' : config.server.host;
  return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${config.server.port}`;
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
 * a daemon with a token refuses every change without it.
 */
export async function call<T>(base: string, path: string, init: RequestInit = {}, timeoutMs = 10_000): Promise<T> {
  let res: Response;
  const headers = new Headers(init.headers);
  // loaded here, not at the top: --help loads command definitions only (test/cli/startup.test.ts)
  const { clientAuthHeaders } = await import('../api/client-token.ts');
  for (const [k, v] of Object.entries(clientAuthHeaders())) if (!headers.has(k)) headers.set(k, v);
  try {
    res = await fetch(new URL(path, base), { ...init, headers, signal: init.signal ?? AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new Error(`cannot reach the daemon at ${base} (${cause}); is it running? (--url)`);
  }
  const body = (await res.json().catch(() => ({}))) as T & { message?: string };
  if (!res.ok) throw new DaemonCallError(res.status, `${init.method ?? 'GET'} ${path}: ${res.status} ${body.message ?? res.statusText}`);
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
