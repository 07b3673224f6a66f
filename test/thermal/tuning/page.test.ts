/**
 * The thermal page in headless Chromium (Debian's chromium, driven over the DevTools protocol; no
 * browser download): it loads, the zone chart draws, a preview runs on the plant model, an edit
 * reaches the zone.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, untilAsync, type Harness } from '../service/harness.ts';

// chromium comes with .ci/setup: a machine without it fails here rather than skipping the page
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? '/usr/bin/chromium';
const opened: Harness[] = [];
let browser: ChildProcess | undefined;
afterEach(async () => {
  browser?.kill('SIGKILL');
  browser = undefined;
  await Promise.all(opened.map((h) => h.close()));
  opened.length = 0;
});

describe('thermal page', () => {
  it('loads, draws the zone chart, previews gains on the model and applies an edit to the zone', async () => {
    const h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } } });
    opened.push(h);
    await h.underControl();
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = h.app.server.address() as { port: number };
    const base = `http://127.0.0.1:${addr.port}`;
    expect((await h.app.inject('/v1/thermal/ui')).headers['content-type']).toMatch(/^text\/html/);

    const profile = mkdtempSync(join(tmpdir(), 'gance-chromium-'));
    browser = spawn(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], { stdio: 'ignore' });
    const port = await untilAsync('DevTools port', async () => {
      const f = join(profile, 'DevToolsActivePort');
      return existsSync(f) ? Number(readFileSync(f, 'utf8').split('\n')[0]) : undefined;
    }, 30_000);
    const targets = await untilAsync('a page target', async () => {
      const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
      return list.find((t) => t.type === 'page');
    }, 30_000);
    const zone = '#zone-gpu0';
    const steps = [
      { navigate: `${base}/v1/thermal/ui` },
      { waitFor: `document.body.dataset.ready === 'true' && document.querySelector('${zone} .chart svg') !== null`, timeoutMs: 30000 },
      { eval: `[...document.querySelectorAll('${zone} .chart svg path')].map((p) => p.getAttribute('data-series'))`, as: 'series' },
      { eval: `document.querySelector('${zone} .state').textContent`, as: 'state' },
      { eval: `(() => { const f = document.querySelector('${zone} form'); f.elements.kp.value = '0.031'; f.elements.ki.value = '0.0004'; document.querySelector('${zone} .preview-button').click(); return true; })()` },
      { waitFor: `document.querySelector('${zone} .preview-text') !== null` },
      { eval: `document.querySelector('${zone} .preview-text').textContent`, as: 'preview' },
      { eval: `document.querySelectorAll('${zone} .preview polyline[data-series=preview]').length`, as: 'previewLines' },
      { eval: `(document.querySelector('${zone} form').requestSubmit(), true)` },
      { waitFor: `document.querySelector('${zone} .status').textContent === 'applied'` },
      // a cleared field is not 0 (Number('') is): it went out as kp 0, the P term off
      { eval: `(() => { const f = document.querySelector('${zone} form'); f.elements.kp.value = ''; f.requestSubmit(); return true; })()` },
      { waitFor: `document.querySelector('${zone} .status').textContent.startsWith('refused')`, timeoutMs: 5000 },
      { eval: `document.querySelector('${zone} .status').textContent`, as: 'emptied' },
    ];
    const stepsFile = join(profile, 'steps.json');
    writeFileSync(stepsFile, JSON.stringify(steps));
    const { stdout } = await promisify(execFile)(process.execPath, ['--experimental-websocket', 'test/helpers/cdp-drive.mjs', targets.webSocketDebuggerUrl, stepsFile], { timeout: 90_000 });
    const out = JSON.parse(stdout.trim()) as { series: string[]; state: string; preview: string; previewLines: number; emptied: string };
    expect(out.series).toEqual(['temperature', 'setpoint', 'duty', 'rpm']);
    expect(out.state).toMatch(/^pid, [\d.]+ C \(setpoint 70 C\)/);
    expect(out.preview).toMatch(/on the simulator model .* overshoot [\d.]+ C, settles/);
    expect(out.previewLines).toBe(1);
    expect(out.emptied).toBe('refused: kp: enter a number');
    const z = await h.zone();
    expect(z.settings.pid).toMatchObject({ kp: 0.031, ki: 0.0004, setpoint: 70 });
  }, 120_000);
});
