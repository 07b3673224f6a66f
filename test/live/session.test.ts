/**
 * The done-when: a live session from a looped WAV (real ffmpeg at real time, the demo network on
 * the CPU, real HTTP) shows changing frames on MJPEG and on the projector page in headless
 * Chromium, and a network change sent over the WebSocket shows in the frames that follow.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { api, decodeJpeg, liveServer, meanDiff, openWs, readMjpeg, seededNetwork, tempDir, toneWav, type LiveServer } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';

describe('live session from a looped WAV', () => {
  let srv: LiveServer;
  let id: string;
  const dir = tempDir();

  beforeAll(async () => {
    seededNetwork(dir, 'seeded-7', 7);
    srv = await liveServer({ extraDirs: [dir] });
    const r = await api(srv.base, 'POST', '/v1/live', { audio: { kind: 'file', path: toneWav(dir) }, networks: ['demo-64'], fps: 30, lookaheadFrames: 0 });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    id = r.body.id;
    expect(r.body).toMatchObject({ state: 'running', networks: ['demo-64'], fps: 30 });
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  it('streams changing frames as MJPEG, each part a JPEG of the network that made it', async () => {
    const { contentType, parts } = await readMjpeg(`${srv.base}/v1/live/${id}/mjpeg`, 8);
    expect(contentType).toBe('multipart/x-mixed-replace; boundary=gancelive');
    const seqs = parts.map((p) => Number(p.headers['x-frame']));
    // newest frames only, in order: numbers rise (gaps are frames this client or the session dropped)
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    for (const p of parts) {
      expect(p.headers['content-type']).toBe('image/jpeg');
      expect(p.headers['x-network']).toBe('demo-64');
      expect(p.jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    }
    const first = await decodeJpeg(parts[0]!.jpeg);
    const last = await decodeJpeg(parts.at(-1)!.jpeg);
    expect(first.length).toBe(64 * 64 * 3);
    expect(meanDiff(first, last)).toBeGreaterThan(0.5);
    // the view's latency figures are recomputed at most every 250 ms
    await vi.waitFor(
      async () => {
        const view = (await api(srv.base, 'GET', `/v1/live/${id}`)).body;
        expect(view.frames.shown).toBeGreaterThanOrEqual(8);
        expect(view.latencyMs.mjpeg.count).toBeGreaterThan(0);
        expect(view.latencyMs.publish.p50).toBeGreaterThan(0);
      },
      { timeout: 5000, interval: 50 },
    );
  });

  // chromium comes with .ci/setup: a machine without it fails here rather than skipping the page
  it(`paints changing frames on the projector page in headless Chromium (${CHROMIUM}) and reports paint latency`, async () => {
    let browser: BrowserContext | undefined;
    try {
      // a fresh profile each run (playwright passes it as --user-data-dir)
      browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'gance-chromium-')), {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 320, height: 240 },
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      const page = await browser.newPage();
      const res = await page.goto(`${srv.base}/v1/live/${id}/page`);
      expect(res?.status()).toBe(200);
      // browser-side code as strings: this program is typed for node, not the DOM
      await page.waitForFunction('window.__live.painted >= 3', undefined, { timeout: 15_000 });
      const shot = () => page.evaluate<string>("document.getElementById('c').toDataURL('image/png')");
      const a = { seq: await page.evaluate<number>('window.__live.lastSeq'), png: await shot() };
      await page.waitForFunction(`window.__live.lastSeq > ${a.seq + 3}`, undefined, { timeout: 15_000 });
      const b = { png: await shot() };
      expect(b.png).not.toBe(a.png);
      const live = await page.evaluate<{ network: string; decodeErrors: number }>('window.__live');
      expect(live.network).toBe('demo-64');
      expect(live.decodeErrors).toBe(0);
      // the page's paint reports reach the daemon as the sample-to-paint latency
      await vi.waitFor(async () => expect((await api(srv.base, 'GET', `/v1/live/${id}`)).body.latencyMs.paint.count).toBeGreaterThan(0), { timeout: 5000, interval: 50 });
      // the overlay shows the session's state and hides on a key
      await page.waitForFunction("document.getElementById('o').textContent.includes('fps')", undefined, { timeout: 5000 });
      await page.keyboard.press('h');
      expect(await page.evaluate<boolean>("document.getElementById('o').classList.contains('hidden')")).toBe(true);
    } finally {
      await browser?.close();
    }
  }, 60_000);

  it('switches networks on a WebSocket patch: the new network shows in the next frames, different pictures', async () => {
    const { ws, next } = await openWs(srv.base, id);
    try {
      ws.send(JSON.stringify({ type: 'subscribe' }));
      const head = (b: Buffer) => JSON.parse(b.subarray(4, 4 + b.readUInt32BE(0)).toString()) as { seq: number; network: string };
      const jpeg = (b: Buffer) => b.subarray(4 + b.readUInt32BE(0));
      const before = await next((m, bin) => bin && head(m).network === 'demo-64');
      const beforeNext = await next((m, bin) => bin && head(m).seq > head(before).seq);
      const patched = next((m, bin) => !bin && m.type === 'patched');
      ws.send(JSON.stringify({ type: 'patch', patch: { networks: ['seeded-7'] } }));
      expect((await patched).session.pendingNetworks).toEqual(['seeded-7']);
      const after = await next((m, bin) => bin && head(m).network === 'seeded-7');
      // once the new network shows, the old one does not come back
      const seen: string[] = [];
      await next((m, bin) => bin && head(m).seq > head(after).seq && seen.push(head(m).network) >= 5);
      expect(new Set(seen)).toEqual(new Set(['seeded-7']));
      // other weights, another picture: further from the old network's frame than two of its frames in a row are
      const a = await decodeJpeg(jpeg(before));
      const step = meanDiff(a, await decodeJpeg(jpeg(beforeNext)));
      expect(meanDiff(a, await decodeJpeg(jpeg(after)))).toBeGreaterThan(Math.max(5, 3 * step));
      const view = (await api(srv.base, 'GET', `/v1/live/${id}`)).body;
      expect(view).toMatchObject({ networks: ['seeded-7'], pendingNetworks: null, error: null });
    } finally {
      ws.close();
    }
  }, 30_000);
});
