/**
 * One WebSocket message to a live session and its answer. Text is JSON: {type: 'patch', patch},
 * {type: 'get'}, {type: 'subscribe'} (frames follow as binary messages), {type: 'paint', seq} (the
 * projector page's report). Binary is PCM for a session whose audio is pushed. Anything else gets
 * an error message and is counted; nothing a client sends can throw out of here.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ApiError } from '../api/errors.ts';
import { firstProblem } from '../api/union.ts';
import type { LiveSession } from './session.ts';
import { WS_MESSAGE_TYPES, WsClientMessage } from './spec.ts';

const TYPES = WS_MESSAGE_TYPES.join(', ');
// one checker per message type: a union's own errors would not say which field of which message was wrong
const checkers = new Map(WsClientMessage.anyOf.map((m) => [m.properties.type.const as string, TypeCompiler.Compile(m)]));

export interface MessageHooks {
  subscribe(): void;
  bad(): void;
}

type Answer = { type: 'patched' | 'state'; session: ReturnType<LiveSession['view']> } | { type: 'subscribed' } | { type: 'error'; message: string } | null;

export function handleMessage(s: LiveSession, data: Buffer, isBinary: boolean, hooks: MessageHooks): Answer {
  const error = (message: string): Answer => {
    hooks.bad();
    return { type: 'error', message };
  };
  try {
    if (isBinary) {
      s.pushAudio(data);
      return null;
    }
    if (data.length > 64 * 1024) return error('a control message is at most 64 KiB of JSON');
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      return error(`messages are JSON objects with a "type": ${TYPES}`);
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return error(`messages are JSON objects with a "type": ${TYPES}`);
    const type = (msg as { type?: unknown }).type;
    const check = typeof type === 'string' ? checkers.get(type) : undefined;
    if (!check) return error(`unknown message type ${JSON.stringify(type ?? null).slice(0, 40)}: ${TYPES}`);
    if (!check.Check(msg)) {
      const e = firstProblem(check.Errors(msg));
      return error(`${type}: ${e?.path ?? '/'} ${e?.message ?? 'is invalid'}`);
    }
    const m = msg as WsClientMessage;
    switch (m.type) {
      case 'patch':
        s.patch(m.patch);
        return { type: 'patched', session: s.view() };
      case 'get':
        return { type: 'state', session: s.view() };
      case 'subscribe':
        hooks.subscribe();
        return { type: 'subscribed' };
      case 'paint':
        s.reportPaint(m.seq);
        return null;
    }
  } catch (err) {
    // a refused patch or PCM to a session that does not take it: the client's mistake, said plainly
    if (err instanceof ApiError) return error(err.message);
    return error(`internal error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** What the state ticker needs of a WebSocket (ws's own; a fake in the tests). */
export interface TickedSocket {
  readonly bufferedAmount: number;
  send(text: string): void;
  terminate(): void;
}

/**
 * The state message each second, for a client that reads it. A state goes out only when the
 * last one has left (nothing buffered): a client that stopped reading grew the daemon's memory by a
 * state a second, for ever, once its socket's kernel buffers were full. One that has not
 * subscribed (a control page) and leaves its socket full for `stalledMs` is terminated, giving its
 * maxClients place back; a subscribed one is let go by its frame writer (hub.ts). Returns a stop.
 */
export function stateTicker(socket: TickedSocket, state: () => unknown, opts: { periodMs: number; stalledMs: number; subscribed: () => boolean }): () => void {
  let fullSince: number | null = null;
  let elapsed = 0;
  const timer = setInterval(() => {
    elapsed += opts.periodMs;
    if (socket.bufferedAmount === 0) {
      fullSince = null;
      socket.send(JSON.stringify({ type: 'state', session: state() }));
      return;
    }
    fullSince ??= elapsed;
    if (!opts.subscribed() && elapsed - fullSince >= opts.stalledMs) socket.terminate();
  }, opts.periodMs);
  timer.unref();
  return () => clearInterval(timer);
}
