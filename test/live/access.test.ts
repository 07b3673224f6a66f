/**
 * Live pages and the WebSocket with an API token configured, in headless Chromium (Debian's
 * chromium, driven by playwright-core with its executable path): refused without the session
 * cookie, working once signed in, either by presenting the token once in the page's form or by
 * opening a short-lived login link; the token never appears in a URL.
 */
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Request } from 'playwright-core';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, liveServer, tempDir, toneWav, type LiveServer } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'live-stage-token-0123456789abcdef0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

async function browser(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'gance-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 320, height: 240 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The status a WebSocket upgrade is answered with (101 when it opens). */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    ws.once('error', (e) => {
      if (!/Unexpected server response/.test(e.message)) reject(e);
    });
  });
}

describe('live pages and WebSocket behind the API token', () => {
  let srv: LiveServer;
  let id: string;

  beforeAll(async () => {
    srv = await liveServer({ access: { token: TOKEN } });
    const res = await fetch(`${srv.base}/v1/live`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ audio: { kind: 'file', path: toneWav(tempDir()) }, networks: ['demo-64'], fps: 15 }),
    });
    const body = (await res.json()) as { id: string };
    expect(res.status, JSON.stringify(body)).toBe(201);
    id = body.id;
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
  }, 30_000);

  it('refuses the WebSocket without the token or its cookie, takes either', async () => {
    const url = `${srv.base.replace('http', 'ws')}/v1/live/${id}/ws`;
    expect(await upgradeStatus(url)).toBe(401);
    expect(await upgradeStatus(url, { cookie: 'gance_session=1.2.3' })).toBe(401);
    expect(await upgradeStatus(url, auth)).toBe(101);
    const login = await fetch(`${srv.base}/v1/auth/session`, { method: 'POST', headers: auth });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect(cookie).toMatch(/^gance_session=/);
    expect(await upgradeStatus(url, { cookie })).toBe(101);
    // a refused upgrade is closed by the daemon, even when the client keeps its end open
    const port = Number(new URL(srv.base).port);
    const raw = connect({ host: '127.0.0.1', port });
    let answer = '';
    raw.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    raw.write(`GET /v1/live/${id}/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    // a session made without the token cannot be watched or changed either
    expect((await api(srv.base, 'PATCH', `/v1/live/${id}`, { alpha: 0.5 })).status).toBe(401);
  });

  it('the projector page asks for the token once, then paints over the cookie; without it nothing connects', async () => {
    const ctx = await browser();
    const urls: string[] = [];
    const seen = (r: Request) => urls.push(r.url());
    try {
      const page = await ctx.newPage();
      page.on('request', seen);
      const res = await page.goto(`${srv.base}/v1/live/${id}/page`);
      expect(res?.status()).toBe(200);
      await page.waitForFunction("window.__live.signIn === 'needed'", undefined, { timeout: 15_000 });
      expect(await page.isVisible('#signin')).toBe(true);
      // refused without the cookie: nothing connects, nothing paints
      await new Promise((r) => setTimeout(r, 500));
      expect(await page.evaluate<{ connected: boolean; painted: number }>('window.__live')).toMatchObject({ connected: false, painted: 0 });
      // a wrong token is said and changes nothing
      await page.fill('#token', 'not-the-token-not-the-token-xx');
      await page.click('#signin button');
      await page.waitForFunction("document.querySelector('#signin .why').textContent.length > 0", undefined, { timeout: 5000 });
      expect(await page.textContent('#signin .why')).toMatch(/not valid/);
      expect(await page.evaluate<boolean>('window.__live.connected')).toBe(false);
      await page.fill('#token', TOKEN);
      await page.click('#signin button');
      await page.waitForFunction('window.__live.painted >= 3', undefined, { timeout: 20_000 });
      expect(await page.isVisible('#signin')).toBe(false);
      const cookies = await ctx.cookies(srv.base);
      expect(cookies.find((c) => c.name === 'gance_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      // the token never went into a URL
      expect(urls.filter((u) => u.includes(TOKEN))).toEqual([]);
      // a reload needs no form: the cookie is enough
      await page.reload();
      await page.waitForFunction("window.__live.signIn === 'ok' && window.__live.painted >= 1", undefined, { timeout: 20_000 });
      expect(await page.isVisible('#signin')).toBe(false);
    } finally {
      await ctx.close();
    }
  }, 90_000);

  it('a login link opens the control page signed in; a patch from it reaches the session; the link works once', async () => {
    const link = await fetch(`${srv.base}/v1/auth/link`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ next: `/v1/live/${id}/control`, ttlSeconds: 60 }) });
    const { url } = (await link.json()) as { url: string };
    expect(url).not.toContain(TOKEN);
    const ctx = await browser();
    try {
      const page = await ctx.newPage();
      const res = await page.goto(srv.base + url);
      expect(res?.status()).toBe(200);
      expect(page.url()).toBe(`${srv.base}/v1/live/${id}/control`);
      await page.waitForFunction("window.__control.signIn === 'ok' && window.__control.connected && window.__control.state !== null", undefined, { timeout: 20_000 });
      expect(await page.isVisible('#signin')).toBe(false);
      // a slider moved: a WebSocket patch the session takes
      await page.evaluate("(() => { const el = document.querySelector('input[name=pulse]'); el.value = '3.5'; el.dispatchEvent(new Event('input')); })()");
      await page.waitForFunction('window.__control.patched >= 1', undefined, { timeout: 10_000 });
      expect(srv.service.get(id).params.pulse).toBe(3.5);
      expect(await page.evaluate<string | null>('window.__control.lastError')).toBeNull();
      // the same link in another browser: used, refused; its pages stay signed out
      const other = await browser();
      try {
        const p2 = await other.newPage();
        expect((await p2.goto(srv.base + url))?.status()).toBe(401);
        await p2.goto(`${srv.base}/v1/live/${id}/control`);
        await p2.waitForFunction("window.__control.signIn === 'needed'", undefined, { timeout: 15_000 });
        expect(await p2.evaluate<boolean>('window.__control.connected')).toBe(false);
      } finally {
        await other.close();
      }
    } finally {
      await ctx.close();
    }
  }, 90_000);
});
