/**
 * A live session's tagged unions (audio.kind, a camera's kind, a WebSocket message's type) refused
 * by their tag: a wrong or missing tag is named with the tags allowed, where it was once reported as
 * the first member's missing field (`{"audio": {"kind": "nope"}}` -> "body/audio must have required
 * property 'path'"); a right tag gets that member's own errors. Real routes (fastify inject, the
 * app's ajv), the service's TypeBox check, the WebSocket's message check and the OpenAPI document.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.ts';
import { liveApi } from '../../src/live/api.ts';
import { createLiveService, type LiveServiceDeps } from '../../src/live/service.ts';
import type { LiveSession } from '../../src/live/session.ts';
import { LiveAudio, patchProblem } from '../../src/live/spec.ts';
import { Value } from '@sinclair/typebox/value';
import { handleMessage } from '../../src/live/ws.ts';

const framing = (camera: unknown) => ({ width: 64, height: 64, frame: { width: 32, height: 32, x: 0, y: 0 }, camera });

describe('live tagged unions name their tag', () => {
  let app: FastifyInstance;
  let service: ReturnType<typeof createLiveService>;

  beforeAll(async () => {
    // every body here is refused before a network or the latents would be touched
    const untouched = new Proxy({}, { get: (_t, k) => { throw new Error(`touched ${String(k)}`); } });
    service = createLiveService({ networks: untouched, latents: untouched, log: pino({ level: 'silent' }), registry: new Registry() } as unknown as LiveServiceDeps);
    app = await buildApp({ registry: new Registry(), plugins: [liveApi(service)], notReady: () => [] });
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = async (body: unknown) => {
    const r = await app.inject({ method: 'POST', url: '/v1/live', payload: body as object });
    return { status: r.statusCode, message: r.json<{ message: string }>().message };
  };

  it('POST: a wrong audio.kind is named, with the kinds it takes', async () => {
    expect(await post({ audio: { kind: 'nope' }, networks: ['demo-64'] })).toEqual({ status: 400, message: 'body/audio/kind must be one of: "file", "alsa", "push" (got "nope")' });
    expect(await post({ audio: { kind: 7 }, networks: ['demo-64'] })).toEqual({ status: 400, message: 'body/audio/kind must be one of: "file", "alsa", "push" (got 7)' });
    expect(await post({ audio: { path: 'a.wav' }, networks: ['demo-64'] })).toEqual({ status: 400, message: 'body/audio/kind is required: one of "file", "alsa", "push"' });
    expect(await post({ audio: 'a.wav', networks: ['demo-64'] })).toEqual({ status: 400, message: 'body/audio must be object' });
  });

  it('POST: a right kind gets its own member\'s errors, not another member\'s', async () => {
    expect(await post({ audio: { kind: 'file' }, networks: ['demo-64'] })).toEqual({ status: 400, message: "body/audio must have required property 'path'" });
    expect(await post({ audio: { kind: 'alsa', path: 'a.wav' }, networks: ['demo-64'] })).toEqual({ status: 400, message: "body/audio must have required property 'device'" });
    expect(await post({ audio: { kind: 'push', sampleRate: 10 }, networks: ['demo-64'] })).toEqual({ status: 400, message: 'body/audio/sampleRate must be >= 8000' });
  });

  it('PATCH: a camera kind inside the framing (itself a union with null) is named', async () => {
    const r = await app.inject({ method: 'PATCH', url: '/v1/live/abc', payload: { framing: framing({ kind: 'usb', device: '/dev/video0' }) } });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toBe('body/framing/camera/kind must be one of: "v4l2", "testsrc" (got "usb")');
  });

  it('the service (CLI and daemon alike), the patch check and the WebSocket name the tag too', async () => {
    await expect(service.start({ audio: { kind: 'nope' }, networks: ['demo-64'] })).rejects.toThrow('live session: /audio/kind must be one of: "file", "alsa", "push" (got "nope")');
    await expect(service.start({ audio: { kind: 'alsa' }, networks: ['demo-64'] })).rejects.toThrow("live session: /audio/device Expected required property");
    expect(patchProblem({ framing: framing({ kind: 'usb' }) })).toBe('/framing/camera/kind must be one of: "v4l2", "testsrc" (got "usb")');
    expect(patchProblem({ framing: framing({ kind: 'testsrc', pattern: 'plaid' }) })).toMatch(/^\/framing\/camera\/pattern /);
    let bad = 0;
    const answer = handleMessage({} as LiveSession, Buffer.from(JSON.stringify({ type: 'patch', patch: { framing: framing({}) } })), false, { subscribe: () => {}, bad: () => bad++ });
    expect(answer).toEqual({ type: 'error', message: 'patch: /patch/framing/camera/kind is required: one of "v4l2", "testsrc"' });
    expect(bad).toBe(1);
  });

  it('a v4l2 device climbing out of /dev (/dev/../etc/passwd was opened as a camera) is 400 naming the field, POST, PATCH and the patch check', async () => {
    for (const device of ['/dev/../etc/passwd', '/dev/v4l/../../tmp/x', '/dev/..', '/dev/video0/..']) {
      const camera = { kind: 'v4l2', device };
      const start = await post({ audio: { kind: 'push' }, networks: ['demo-64'], framing: framing(camera) });
      expect({ device, ...start }).toEqual({ device, status: 400, message: expect.stringMatching(/^body\/framing\/camera\/device must match pattern /) });
      const patch = await app.inject({ method: 'PATCH', url: '/v1/live/abc', payload: { framing: framing(camera) } });
      expect({ device, status: patch.statusCode }).toEqual({ device, status: 400 });
      expect(patch.json().message).toMatch(/^body\/framing\/camera\/device must match pattern /);
      expect(patchProblem({ framing: framing(camera) })).toMatch(/^\/framing\/camera\/device /);
    }
    // names with dots that do not climb are devices as before
    for (const device of ['/dev/video0', '/dev/v4l/by-id/usb-Cam_1.0-video-index0', '/dev/./video0']) expect(patchProblem({ framing: framing({ kind: 'v4l2', device }) })).toBeNull();
  });

  it('an ALSA device string naming a PCM plugin that writes or reaches files (file:FILE=..., tee, shm, plug:SLAVE) is 400 before ffmpeg opens it', async () => {
    // each was opened by ffmpeg's ALSA input: file:FILE=/var/lib/gance/state/renders.sqlite truncated and overwrote that file
    for (const device of ['file:FILE=/tmp/x,FORMAT=raw', 'file:FILE=x', 'tee:null,/tmp/x,raw', 'shm:/tmp/sock,pcm', 'plug:"file:FILE=x"', "plug:'file:FILE=x'", 'plug:SLAVE=file', 'hw:1,0 ', '{ type file }', 'hw:/tmp/x']) {
      const start = await post({ audio: { kind: 'alsa', device }, networks: ['demo-64'] });
      expect({ device, status: start.status }).toEqual({ device, status: 400 });
      expect(start.message).toMatch(/^body\/audio\/device must match pattern /);
    }
    // capture devices as people name them stay devices
    const alsa = (device: string) => Value.Check(LiveAudio, { kind: 'alsa', device });
    for (const device of ['hw:1,0', 'hw:1', 'plughw:CARD=USB_Audio,DEV=0', 'default', 'default:CARD=PCH', 'sysdefault:CARD=PCH', 'dsnoop:1,0', 'front:CARD=Device,DEV=0', 'my_mic']) expect({ device, ok: alsa(device) }).toEqual({ device, ok: true });
  });

  it('the OpenAPI document marks the unions with their discriminator', async () => {
    const doc = (await app.inject('/docs/json')).json();
    const start = doc.paths['/v1/live/'].post.requestBody.content['application/json'].schema;
    expect(start.properties.audio.discriminator).toEqual({ propertyName: 'kind' });
    expect(start.properties.audio.anyOf.map((m: { properties: { kind: { const?: string; enum?: string[] } } }) => m.properties.kind.const ?? m.properties.kind.enum?.[0])).toEqual(['file', 'alsa', 'push']);
  });
});
