/**
 * /v1/live: sessions (POST, GET, PATCH, DELETE), their MJPEG stream, the projector page and the
 * WebSocket channel (the same controls, frames for the page, pushed PCM). Errors are thrown as the
 * API's typed errors; the app's one handler answers them.
 */
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { WebSocket } from 'ws';
import { ErrorReply, type ApiPlugin } from '../api/app.ts';
import { ConflictError } from '../api/errors.ts';
import { NewestWriter, STALLED_CLIENT_MS, type Client, type LiveFrame } from './hub.ts';
import { controlPage, projectorPage } from './page.ts';
import type { LiveService } from './service.ts';
import type { LiveSession } from './session.ts';
import { LivePatch, LiveStart, WsClientMessage } from './spec.ts';
import { LiveSynthesisView } from './synthesis.ts';
import { handleMessage, stateTicker } from './ws.ts';

const BOUNDARY = 'gancelive';

const LiveView = Type.Object({
  id: Type.String(),
  state: Type.String({ description: 'starting, running, audio-lost (retrying the source; the last frame stays up), ended (the file ended), failed (the audio never started), stopped' }),
  error: Type.Union([Type.String(), Type.Null()], { description: 'the latest problem (audio, a frame, a network that would not load)' }),
  audio: Type.Any(),
  fps: Type.Integer(),
  measuredFps: Type.Number(),
  networks: Type.Array(Type.String(), { description: 'the set showing' }),
  pendingNetworks: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'a set loading, to take over when loaded' }),
  params: Type.Any(),
  frames: Type.Any({ description: 'started (latents numbered so far), shown, latest (the number of the newest frame shown), dropped by cause' }),
  latencyMs: Type.Any({ description: 'p50/p99 of recent frames per stage (latents, queue, synthesis, encode) and from audio to publish, MJPEG write, page paint' }),
  framing: Type.Any({ description: 'the output canvas and where the picture lies on it, or null' }),
  clients: Type.Object(
    {
      mjpeg: Type.Integer({ description: 'MJPEG streams' }),
      ws: Type.Integer({ description: 'WebSocket connections (projector and control pages, programs), subscribed to frames or not' }),
      wsSubscribed: Type.Integer({ description: 'of the WebSockets, those subscribed to frames' }),
      connected: Type.Integer({ description: 'mjpeg + ws: what maxClients bounds (409 past it)' }),
      maxClients: Type.Integer(),
      ffmpeg: Type.Integer({ description: 'the session\'s outputs (recordings, streams): not clients, not counted in maxClients' }),
    },
    { description: 'clients connected, by kind' },
  ),
  synthesis: LiveSynthesisView,
  startedAt: Type.String(),
});

/** What the daemon sends on the session WebSocket as text (frames are binary, see WsClientMessage's subscribe). */
const WsServerMessage = Type.Union([
  Type.Object({ type: Type.Literal('state'), session: LiveView }, { description: 'on connecting, each second, and in answer to get' }),
  Type.Object({ type: Type.Literal('patched'), session: LiveView }, { description: 'a patch applied' }),
  Type.Object({ type: Type.Literal('subscribed') }),
  Type.Object({ type: Type.Literal('error'), message: Type.String() }, { description: 'a message refused (counted in gance_live_ws_bad_messages_total); the connection stays' }),
]);

const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** A frame as the WebSocket sends it: 4-byte header length, JSON header, JPEG. */
export function framePacket(f: LiveFrame): Buffer {
  const head = Buffer.from(JSON.stringify({ seq: f.seq, network: f.network, width: f.width, height: f.height, at: f.at, placement: f.placement }));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  return Buffer.concat([len, head, f.jpeg]);
}

export function livePlugin(service: LiveService): FastifyPluginAsync {
  return async (fastify) => {
    await fastify.register(websocket, { options: { maxPayload: 1 << 20 } });
    // @fastify/websocket hides its routes from the OpenAPI document; the session channel is part of
    // the API (its messages are described in x-websocket-messages), so it is shown again
    fastify.addHook('onRoute', (r) => {
      if (r.websocket && r.schema && r.config && (r.config as { documented?: boolean }).documented) r.schema.hide = false;
    });
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const m = service.metrics;

    function admit(s: LiveSession): void {
      if (s.clientCounts().connected >= s.spec.maxClients) {
        m.refused.inc();
        throw new ConflictError(`live session ${s.id} has ${s.spec.maxClients} clients (its maxClients)`);
      }
    }

    app.post(
      '/',
      { schema: { description: 'Start a live session: audio in, frames out (201 once its first latent is made; 422 when the source sends nothing within 10 s). Files are names under render.mediaRoot, file outputs names under render.outputRoot', tags: ['live'], body: LiveStart, response: { 201: LiveView, 400: ErrorReply, 403: ErrorReply, 409: ErrorReply, 422: ErrorReply } } },
      async (req, reply) => reply.code(201).send((await service.start(req.body)).view()),
    );
    app.get('/', { schema: { description: 'Live sessions', tags: ['live'], response: { 200: Type.Array(LiveView) } } }, async () => service.list());
    app.get('/:id', { schema: { description: 'A live session: state, fps, drops, latency, clients', tags: ['live'], params: Id, response: { 200: LiveView, 404: ErrorReply } } }, async (req) =>
      service.get(req.params.id).view(),
    );
    app.patch(
      '/:id',
      {
        schema: {
          description: 'Change a running session; applies to the next latent the analysis makes (a network set once it has loaded)',
          tags: ['live'],
          params: Id,
          body: LivePatch,
          response: { 200: LiveView, 400: ErrorReply, 404: ErrorReply, 409: ErrorReply, 422: ErrorReply },
        },
      },
      async (req) => service.patch(req.params.id, req.body),
    );
    app.delete('/:id', { schema: { description: 'Stop a live session', tags: ['live'], params: Id, response: { 200: LiveView, 404: ErrorReply } } }, async (req) => service.stop(req.params.id));

    // The pages are shells with no data of their own (everything comes over the WebSocket, which
    // needs the token's cookie): public, so a browser without the cookie gets the sign-in form.
    // They do not look the session up, so they tell nobody which ids exist.
    const page = (render: (id: string) => string) => async (req: { params: { id: string } }, reply: FastifyReply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').send(render(req.params.id));
    app.get(
      '/:id/page',
      { config: { access: 'public' }, schema: { description: 'The projector page (full-screen frames; h hides the overlay); signs in with the session cookie (a form asks for the token once when there is none)', tags: ['live'], params: Id, produces: ['text/html'] } },
      page(projectorPage),
    );
    app.get(
      '/:id/control',
      { config: { access: 'public' }, schema: { description: 'The control page: gains, network set and pin, fps, sent as WebSocket patches; signs in like the projector page', tags: ['live'], params: Id, produces: ['text/html'] } },
      page(controlPage),
    );

    app.get(
      '/:id/mjpeg',
      { schema: { description: `The frames as multipart/x-mixed-replace JPEGs (boundary ${BOUNDARY}); a slow client gets the newest frame`, tags: ['live'], params: Id, produces: ['multipart/x-mixed-replace'] } },
      async (req, reply) => {
        const s = service.get(req.params.id);
        admit(s);
        reply.hijack();
        const res = reply.raw;
        // the connection idles between frames when the music stops: no idle timeout for a stream
        req.raw.socket.setTimeout(0);
        req.raw.socket.setNoDelay(true);
        res.writeHead(200, { 'content-type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`, 'cache-control': 'no-store', connection: 'close' });
        const writer = new NewestWriter(
          (f, done) => {
            res.write(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.jpeg.length}\r\nX-Frame: ${f.seq}\r\nX-Network: ${f.network}\r\nX-Time: ${f.at.toFixed(3)}\r\n${f.placement ? `X-Placement: ${f.placement.x},${f.placement.y},${f.placement.width},${f.placement.height}\r\n` : ''}\r\n`);
            res.write(f.jpeg);
            const ok = res.write('\r\n');
            s.reportWrite(f);
            if (ok) done();
            else res.once('drain', done);
          },
          () => m.clientDropped.inc({ output: 'mjpeg' }),
          // a client that stopped reading gives its place back (its close handler below tidies up)
          { ms: STALLED_CLIENT_MS, onStalled: () => res.destroy() },
        );
        const client: Client = {
          output: 'mjpeg',
          get dropped() {
            return writer.dropped;
          },
          offer: (f) => writer.offer(f),
          close: () => {
            writer.close();
            res.end();
          },
        };
        m.clients.inc({ output: 'mjpeg' });
        res.once('close', () => {
          writer.close();
          s.hub.remove(client);
          m.clients.dec({ output: 'mjpeg' });
        });
        s.hub.add(client);
      },
    );

    app.get(
      '/:id/ws',
      {
        websocket: true,
        // the channel carries patches and audio: the token (its cookie, for pages) whenever one is configured
        config: { access: 'write', documented: true } as { access: 'write' },
        schema: {
          summary: 'The session channel (WebSocket upgrade)',
          description:
            'A GET with Upgrade: websocket (101 Switching Protocols). Text messages are JSON, one of x-websocket-messages.client (the patch is the PATCH body schema); the daemon answers with x-websocket-messages.server, and sends a state message each second. After subscribe, frames come as binary messages (a 4-byte big-endian header length, a JSON header {seq, network, width, height, at, placement}, the JPEG); binary messages from the client are PCM for audio kind push. Needs the token whenever one is configured: Authorization: Bearer, or the session cookie (POST /v1/auth/session, or a POST /v1/auth/link link) that pages send.',
          tags: ['live'],
          params: Id,
          headers: Type.Object({ upgrade: Type.String({ pattern: '^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$', description: 'websocket' }) }),
          response: {
            101: Type.Null({ description: 'Switching Protocols: the WebSocket is open' }),
            400: ErrorReply,
            401: ErrorReply,
            403: ErrorReply,
            404: ErrorReply,
            409: ErrorReply,
          },
          'x-websocket-messages': { client: WsClientMessage, server: WsServerMessage },
        },
        // refused before the upgrade, so a wrong id or a full session is a plain HTTP error
        preValidation: async (req) => admit(service.get((req.params as { id: string }).id)),
      },
      (socket: WebSocket, req) => {
        const s = service.get(req.params.id);
        req.raw.socket.setTimeout(0);
        s.controls++;
        // connected, subscribed or not: as the session view and maxClients count them
        m.clients.inc({ output: 'ws' });
        const onStop = () => socket.close(1001, 'session stopped');
        s.stopped.addEventListener('abort', onStop, { once: true });
        let client: Client | null = null;
        const send = (msg: unknown) => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
        };
        const subscribe = () => {
          if (client) return;
          const writer = new NewestWriter(
            (f, done) => socket.send(framePacket(f), () => done()),
            () => m.clientDropped.inc({ output: 'ws' }),
            { ms: STALLED_CLIENT_MS, onStalled: () => socket.terminate() },
          );
          client = {
            output: 'ws',
            get dropped() {
              return writer.dropped;
            },
            offer: (f) => writer.offer(f),
            close: () => {
              writer.close();
              socket.close(1001, 'session stopped');
            },
          };
          s.hub.add(client);
        };
        const ticked = { get bufferedAmount() { return socket.bufferedAmount; }, send: (text: string) => socket.readyState === socket.OPEN && socket.send(text), terminate: () => socket.terminate() };
        const stopTicker = stateTicker(ticked, () => s.view(), { periodMs: 1000, stalledMs: STALLED_CLIENT_MS, subscribed: () => client !== null });
        send({ type: 'state', session: s.view() });
        socket.on('message', (data, isBinary) => {
          const answer = handleMessage(s, data as Buffer, isBinary, { subscribe, bad: () => m.badMessages.inc() });
          if (answer) send(answer);
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          stopTicker();
          s.stopped.removeEventListener('abort', onStop);
          s.controls--;
          m.clients.dec({ output: 'ws' });
          if (client) s.hub.remove(client);
        });
      },
    );
  };
}

export function liveApi(service: LiveService): ApiPlugin {
  return { prefix: '/v1/live', plugin: livePlugin(service) };
}
