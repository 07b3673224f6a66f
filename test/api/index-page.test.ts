/** GET / on the whole daemon: a browser pointed at the address lands on links that all answer. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createDaemon } from '../../src/daemon.ts';
import { quietDaemonConfig } from './daemon-config.ts';
import { buildApp } from '../../src/api/app.ts';
import { indexPage } from '../../src/api/index-page.ts';
import { Registry } from 'prom-client';

const daemon = () => createDaemon({ config: quietDaemonConfig('gance-index-').config, log: pino({ level: 'silent' }) });

const linksOf = (html: string) => [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);

describe('the daemon root page', () => {
  it('is HTML linking the thermal page, docs, renders, live, metrics and readiness, each of which answers (not 404)', { timeout: 60_000 }, async () => {
    const d = await daemon();
    try {
      const res = await d.app.inject('/');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      const links = linksOf(res.body);
      expect(links).toEqual(expect.arrayContaining(['/v1/thermal/ui', '/docs', '/v1/renders', '/v1/live', '/metrics', '/readyz']));
      for (const l of links) expect((await d.app.inject(l)).statusCode, l).not.toBe(404);
    } finally {
      await d.stop();
    }
  });

  it('leaves out the links of routes the app does not have (an app without the subsystems)', async () => {
    const app = await buildApp({ registry: new Registry(), notReady: () => [], plugins: [indexPage()] });
    try {
      const links = linksOf((await app.inject('/')).body);
      expect(links).toEqual(['/docs', '/metrics', '/readyz']);
    } finally {
      await app.close();
    }
  });
});
