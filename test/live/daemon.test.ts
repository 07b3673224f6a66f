/**
 * Live sessions in the whole daemon (embedded config, CPU worker, demo network): /v1/live over real
 * HTTP, the live service offered to other subsystems, load hints on the daemon's bus, sessions
 * stopped with the daemon.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { createDaemon, type Daemon } from '../../src/daemon.ts';
import { api, readMjpeg, tempDir, toneWav } from './helpers.ts';

let daemon: Daemon | undefined;
afterAll(async () => daemon?.stop());

describe('live in the daemon', () => {
  it('starts a session over the API, hints the load, hands its file\'s loudness to thermal control (music-aware cooling), streams, and stops it with the daemon', { timeout: 90_000 }, async () => {
    const config = loadConfigFile();
    config.server.port = 0;
    config.server.host = '127.0.0.1';
    config.stateDir = mkdtempSync(join(tmpdir(), 'gance-live-daemon-'));
    config.synthesis.workers = [{ ...config.synthesis.workers[0]!, gpu: 0, intraOpThreads: 1 }];
    config.synthesis.loadHint = { watts: 150, seconds: 20, idleSeconds: 1 };
    config.synthesis.latents.analysisThreads = 1;
    config.thermal.music.enabled = true;
    // the API names files under the media root, as a render does
    config.render.mediaRoot = tempDir();
    toneWav(config.render.mediaRoot);
    let base = '';
    daemon = await createDaemon({ config, log: pino({ level: 'silent' }), onListening: (a) => (base = a) });
    const events: string[] = [];
    daemon.events.on('load-hint', (h) => h.source === 'live' && events.push(`hint ${h.gpus.join(',')} ${h.watts}`));
    daemon.events.on('load-end', (e) => events.push(`end ${e.source}`));
    const tracks: Array<{ source: string; gpus: number[]; levelsDba: number[]; loop?: boolean }> = [];
    daemon.events.on('music', (m) => tracks.push(m));
    await daemon.start();
    await vi.waitFor(() => expect(daemon!.supervisor.notReady()).toEqual([]), { timeout: 60_000, interval: 50 });
    expect(typeof daemon.services.get('live').start).toBe('function');

    const r = await api(base, 'POST', '/v1/live', { audio: { kind: 'file', path: 'tone.wav' }, networks: ['demo-64'] });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(events).toEqual(['hint 0 150']);
    // the file's loudness (2 s, looped) reaches the zone of the worker's GPU through the bus
    await vi.waitFor(() => expect(tracks).toHaveLength(1), { timeout: 20_000, interval: 50 });
    expect(tracks[0]).toMatchObject({ source: `live:${r.body.id}`, gpus: [0], loop: true });
    expect(tracks[0]!.levelsDba).toHaveLength(2);
    expect(Math.max(...tracks[0]!.levelsDba)).toBeCloseTo(95, 6);
    await vi.waitFor(
      async () => {
        const zone = (await api(base, 'GET', '/v1/thermal')).body.zones.find((z: { id: string }) => z.id === 'gpu0');
        expect(zone.music).toMatchObject({ enabled: true, source: `live:${r.body.id}` });
        expect(zone.music.cap).not.toBeNull();
      },
      { timeout: 10_000, interval: 100 },
    );
    const { parts } = await readMjpeg(`${base}/v1/live/${r.body.id}/mjpeg`, 2);
    expect(parts).toHaveLength(2);
    expect((await api(base, 'GET', '/v1/live')).body.map((s: { id: string }) => s.id)).toEqual([r.body.id]);

    await daemon.stop();
    daemon = undefined;
    expect(events).toEqual(['hint 0 150', `end live:${r.body.id}`, 'end live']);
  });
});
