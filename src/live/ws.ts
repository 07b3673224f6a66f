/**
 * One WebSocket message to a live session and its answer. Text is JSON: {type: 'patch', patch},
 * {type: 'get'}, {type: 'subscribe'} (frames follow as binary messages), {type: 'paint', seq} (the
 * projector page's report). Binary is PCM for a session whose audio is pushed. Anything else gets
 * an error message and is counted; nothing a client sends can throw out of here.
 */
import { ApiError } from '../api/errors.ts';
import type { LiveSession } from './session.ts';

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
      return error('messages are JSON objects with a "type": patch, get, subscribe or paint');
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return error('messages are JSON objects with a "type": patch, get, subscribe or paint');
    const m = msg as { type?: unknown; patch?: unknown; seq?: unknown };
    switch (m.type) {
      case 'patch':
        s.patch(m.patch as never);
        return { type: 'patched', session: s.view() };
      case 'get':
        return { type: 'state', session: s.view() };
      case 'subscribe':
        hooks.subscribe();
        return { type: 'subscribed' };
      case 'paint':
        if (typeof m.seq !== 'number' || !Number.isInteger(m.seq) || m.seq < 0) return error('paint: seq must be a frame number');
        s.reportPaint(m.seq);
        return null;
      default:
        return error(`unknown message type ${JSON.stringify(m.type ?? null).slice(0, 40)}: patch, get, subscribe or paint`);
    }
  } catch (err) {
    // a refused patch or PCM to a session that does not take it: the client's mistake, said plainly
    if (err instanceof ApiError) return error(err.message);
    return error(`internal error: ${err instanceof Error ? err.message : String(err)}`);
  }
}
