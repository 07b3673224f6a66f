/** Shared pieces of the live tests: a looped tone, an in-process daemon slice over real HTTP, MJPEG and WebSocket readers. */
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { WebSocket } from 'ws';
import { buildApp } from '../../src/api/app.ts';
import type { Config } from '../../src/config/schema.ts';
import { createEventBus, type DaemonEventBus } from '../../src/events.ts';
import { liveApi } from '../../src/live/api.ts';
import { createLiveService, type LiveService } from '../../src/live/service.ts';
import { networksApi } from '../../src/synthesis/api.ts';
import { buildRandomNetwork, demoShape } from '../../src/synthesis/stylegan2/index.ts';
import type { LocalRenderer } from '../../src/render/local.ts';
import { localRenderer, writeIndexNetwork } from '../render/helpers.ts';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gance-live-'));
}

/** A 2 s tone sweeping in pitch and loudness (so the latents move), as a WAV to loop. */
export function toneWav(dir: string, seconds = 2): string {
  const path = join(dir, 'tone.wav');
  const expr = `0.8*sin(2*PI*(200+400*t)*t)*(0.5+0.5*sin(2*PI*3*t))`;
  const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `aevalsrc=${expr}:s=48000:d=${seconds}`, '-ac', '2', path]);
  if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr.toString()}`);
  return path;
}

/** A second demo-shaped network with other seeded weights: its pictures differ from demo-64's. */
export function seededNetwork(dir: string, id: string, seed: number): void {
  buildRandomNetwork(demoShape(), seed, join(dir, `${id}.onnx`), { outputs: ['frames'] });
}

export interface LiveServer {
  app: FastifyInstance;
  base: string;
  service: LiveService;
  registry: Registry;
  events: DaemonEventBus;
  /** the in-process render deps the sessions share their network manager and workers with (a render run beside a session) */
  render: LocalRenderer['deps'];
  close(): Promise<void>;
}

export async function liveServer(
  o: {
    extraDirs?: string[];
    workers?: number;
    /** the synthesis workers as configured (default: `workers` CPU ones) */
    workerSpecs?: Config['synthesis']['workers'];
    /** the live service's log (default: silent) */
    log?: Logger;
    loadHint?: boolean;
    cameraRetryMs?: number;
    access?: Parameters<typeof buildApp>[0]['access'];
    /** the daemon's confinement (render.mediaRoot, render.outputRoot); none: the CLI's in-process service */
    roots?: { media: string; output: string };
    startTimeoutMs?: number;
    maxSessions?: number;
    /** /v1/networks beside /v1/live, on the same network manager (as the daemon has it) */
    networksApi?: boolean;
    /** the files queued and running renders will write (the daemon's render service) */
    renderOutputs?: () => ReadonlySet<string>;
    /** the latents service the sessions get, from the real one (a test's failing source) */
    wrapLatents?: (latents: LocalRenderer['deps']['latents']) => LocalRenderer['deps']['latents'];
  } = {},
): Promise<LiveServer> {
  const local = localRenderer({ workers: o.workers ?? 1, ...(o.workerSpecs ? { workerSpecs: o.workerSpecs } : {}), ...(o.extraDirs ? { extraDirs: o.extraDirs } : {}) });
  const registry = new Registry();
  const events = createEventBus();
  const service = createLiveService({
    networks: local.deps.networks,
    latents: o.wrapLatents ? o.wrapLatents(local.deps.latents) : local.deps.latents,
    log: o.log ?? pino({ level: 'silent' }),
    registry,
    events,
    audioRetryMs: 50,
    ...(o.cameraRetryMs !== undefined ? { cameraRetryMs: o.cameraRetryMs } : {}),
    ...(o.roots ? { roots: o.roots } : {}),
    ...(o.startTimeoutMs !== undefined ? { startTimeoutMs: o.startTimeoutMs } : {}),
    ...(o.maxSessions !== undefined ? { maxSessions: o.maxSessions } : {}),
    ...(o.renderOutputs ? { renderOutputs: o.renderOutputs } : {}),
    ...(o.loadHint ? { loadHint: { gpus: [0], watts: 200, seconds: 5 } } : {}),
  });
  const app = await buildApp({ registry, plugins: [liveApi(service), ...(o.networksApi ? [networksApi(local.deps.networks)] : [])], notReady: () => [], ...(o.access ? { access: o.access } : {}) });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    base,
    service,
    registry,
    events,
    render: local.deps,
    async close() {
      await service.stopAll();
      await app.close();
      await local.close();
    },
  };
}

// replies and messages are read loosely: each test checks the fields it cares about
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

export async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Loose }> {
  const res = await fetch(base + path, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export interface MjpegPart {
  headers: Record<string, string>;
  jpeg: Buffer;
}

/** Reads `n` parts of an MJPEG stream (multipart/x-mixed-replace) and closes it. */
export function readMjpeg(url: string, n: number, signal?: AbortSignal, onPart?: (p: MjpegPart) => void): Promise<{ contentType: string; parts: MjpegPart[] }> {
  return new Promise((resolve, reject) => {
    const parts: MjpegPart[] = [];
    const req = request(url, (res) => {
      const contentType = String(res.headers['content-type']);
      if (res.statusCode !== 200) {
        reject(new Error(`MJPEG: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      let buf = Buffer.alloc(0);
      res.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        for (;;) {
          const headEnd = buf.indexOf('\r\n\r\n');
          if (headEnd < 0) return;
          const head = buf.subarray(0, headEnd).toString('latin1').split('\r\n').filter((l) => l && !l.startsWith('--'));
          const headers = Object.fromEntries(head.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
          const len = Number(headers['content-length']);
          if (buf.length < headEnd + 4 + len + 2) return;
          const part = { headers, jpeg: Buffer.from(buf.subarray(headEnd + 4, headEnd + 4 + len)) };
          buf = buf.subarray(headEnd + 4 + len + 2);
          parts.push(part);
          onPart?.(part);
          if (parts.length >= n) {
            req.destroy();
            resolve({ contentType, parts });
            return;
          }
        }
      });
      res.on('end', () => reject(new Error(`MJPEG ended after ${parts.length} of ${n} parts`)));
    });
    req.on('error', (e) => {
      if (parts.length < n) reject(e);
    });
    signal?.addEventListener('abort', () => req.destroy(new Error('aborted')), { once: true });
    req.end();
  });
}

/**
 * A JPEG decoded to rgb24 by ffmpeg, without holding the event loop: the daemon slice under test
 * shares it. Held (spawnSync, a dozen decodes on a loaded machine: 11 s) past both keep-alive
 * timeouts, the next fetch went out on the pooled socket before either timer could run, and the
 * server's overdue timer then closed that socket with the request unread: ECONNRESET.
 */
export function decodeJpeg(jpeg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', ['-v', 'error', '-f', 'image2pipe', '-c:v', 'mjpeg', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    ff.stdout.on('data', (c: Buffer) => out.push(c));
    ff.stderr.on('data', (c: Buffer) => err.push(c));
    ff.stdin.on('error', () => {}); // ffmpeg exiting early: its status and stderr say why
    ff.on('error', reject);
    ff.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg: ${Buffer.concat(err).toString()}`))));
    ff.stdin.end(jpeg);
  });
}

/** Mean absolute difference of two equal-sized pictures, 0..255. */
export function meanDiff(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) throw new Error(`pictures of ${a.length} and ${b.length} bytes`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

/** A WebSocket to a session, with a queue of the messages it got. */
export async function openWs(base: string, id: string): Promise<{ ws: WebSocket; next: (pred: (m: Loose, binary: boolean) => boolean) => Promise<Loose> }> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/live/${id}/ws`);
  const waiters: Array<{ pred: (m: Loose, binary: boolean) => boolean; resolve: (m: Loose) => void }> = [];
  ws.on('message', (data: Buffer, binary) => {
    const m = binary ? data : JSON.parse(data.toString());
    for (const w of [...waiters]) {
      if (w.pred(m, binary)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, next: (pred) => new Promise((resolve) => waiters.push({ pred, resolve })) };
}

/**
 * A network the catalogue accepts (its inputs and outputs match the sidecar) but the workers cannot
 * load: the index network with one operator renamed to one onnxruntime does not know.
 */
export function unloadableNetwork(dir: string, id: string): void {
  writeIndexNetwork(dir, id);
  const path = join(dir, `${id}.onnx`);
  const bytes = readFileSync(path);
  const at = bytes.indexOf('Tile');
  if (at < 0) throw new Error('no Tile node to rename');
  bytes.write('Tilx', at, 'latin1');
  writeFileSync(path, bytes);
}

/** Pids of live processes whose command line holds `needle` (an ffmpeg reading a given path). */
export function pidsWith(needle: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(needle) && !/^\S+\s+\S+\s+Z/.test(readFileSync(`/proc/${e}/stat`, 'utf8').replace(/\(.*\)/, 'x'))) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
