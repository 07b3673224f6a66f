/**
 * A render that can only fail as bad-input is refused at the door (422 naming the field), with the
 * real network catalogue and real ffprobe, instead of a 202 and a job that fails a moment later.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { renderAdmission } from '../../src/render/admit.ts';
import type { RenderJobView } from '../../src/render/view.ts';
import { BUNDLED_NETWORKS_DIR, NetworkCatalogue } from '../../src/synthesis/networks/catalogue.ts';
import { tone, writeWav } from '../audio/wav.ts';
import { multipartBody, rendersApp } from './api-setup.ts';
import { fakeRunner } from './fake-runner.ts';
import { until } from './job-helpers.ts';

const apps: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

async function setup() {
  const catalogue = new NetworkCatalogue({ dirs: [], bundledDir: BUNDLED_NETWORKS_DIR, log: pino({ level: 'silent' }) });
  const admit = renderAdmission({ catalogue, latents: loadConfigFile().synthesis.latents });
  const s = await rendersApp(fakeRunner({ frames: 4, batch: 4 }), {}, { admit });
  apps.push(s);
  writeWav(join(s.mediaRoot, 'tone.wav'), 22050, 1, tone(22050, 0.5, [440]));
  writeWav(join(s.mediaRoot, 'tone-44k.wav'), 44100, 1, tone(44100, 0.5, [440]));
  writeFileSync(join(s.mediaRoot, 'empty.wav'), '');
  writeFileSync(join(s.mediaRoot, 'text.wav'), 'hello, not audio\n');
  return s;
}

describe('render admission', () => {
  it('refuses an output size over 4x the network, an empty file, a non-audio file and files of two sample rates with 422 naming the field; queues nothing; renders on', async () => {
    const s = await setup();
    const post = (payload: Record<string, unknown>) => s.app.inject({ method: 'POST', url: '/v1/renders', payload });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ audio: ['tone.wav'], networks: ['demo-64'], output: { size: 258 } }, /^body\/output\/size: output size 258: more than 4x the network's 64 px \(at most 256\)/],
      [{ audio: ['tone.wav', 'empty.wav'], networks: ['demo-64'] }, /^body\/audio\/1: "empty.wav" is not usable audio \(not a readable audio file/],
      [{ audio: ['text.wav'], networks: ['demo-64'] }, /^body\/audio\/0: "text.wav" is not usable audio/],
      [{ audio: ['tone.wav', 'tone-44k.wav'], networks: ['demo-64'] }, /^body\/audio\/1: "tone-44k.wav" is 44100 Hz, "tone.wav" 22050 Hz: files joined in one render must share one sample rate$/],
    ];
    for (const [payload, message] of cases) {
      const res = await post(payload);
      expect({ payload, code: res.statusCode }).toEqual({ payload, code: 422 });
      expect(res.json().message).toMatch(message);
      // the daemon's own paths stay its own
      expect(res.json().message).not.toContain(s.mediaRoot);
    }
    expect(s.queue.list({ limit: 50 })).toEqual([]);
    const ok = await post({ audio: ['tone.wav'], networks: ['demo-64'], output: { size: 256 } });
    expect(ok.statusCode).toBe(202);
    await until(s.scheduler, ok.json<RenderJobView>().id, (j) => j.state === 'done');
  });

  it('refuses an uploaded file that is not audio (422 naming the part by its file name, not the daemon path) and keeps nothing of it', async () => {
    const s = await setup();
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/renders',
      ...multipartBody([
        { name: 'spec', value: JSON.stringify({ networks: ['demo-64'] }) },
        { name: 'audio', value: '', filename: 'empty.wav' },
      ]),
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().message).toMatch(/^body\/audio\/0: "empty.wav" is not usable audio/);
    expect(res.json().message).not.toContain(s.uploadRoot);
    expect(readdirSync(s.uploadRoot)).toEqual([]);
    expect(s.queue.list({ limit: 50 })).toEqual([]);
  });
});
