/**
 * /docs/json against what the whole daemon really answers: every route of every subsystem is in
 * the OpenAPI document with its methods, except the few hidden on purpose (listed with why).
 */
import { homedir, tmpdir } from 'node:os';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createDaemon } from '../../src/daemon.ts';
import { quietDaemonConfig } from './daemon-config.ts';

// a plugin's '/' route answers at /v1/renders and /v1/renders/ alike; the document has one of them
const bare = (path: string) => (path.length > 1 ? path.replace(/\/$/, '') : path);

/** `app.printRoutes({ commonPrefix: false })`'s tree -> "METHOD /path/{param}" for every route. */
function routesOf(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const path = bare(stack.join('').replace(/:([A-Za-z0-9_]+)/g, '{$1}'));
    for (const method of (m[3] ?? '').split(', ').filter((x) => x && x !== 'HEAD' && x !== 'OPTIONS')) out.push(`${method} ${path}`);
  }
  return out;
}

// hidden on purpose: the root's page of links, the docs UI itself, the thermal page (HTML and its script), and the live
// WebSocket (@fastify/websocket hides it: OpenAPI 3.0 cannot describe one; README documents it)
const HIDDEN = [/^GET \/$/, /^GET \/docs/, /^GET \/v1\/thermal\/ui/, /^GET \/v1\/live\/\{id\}\/ws$/];

describe('OpenAPI document of the whole daemon', () => {
  it('lists every route the daemon answers (auth included), with its methods', { timeout: 60_000 }, async () => {
    const { root, config: c } = quietDaemonConfig('gance-docs-');
    const d = await createDaemon({ config: c, log: pino({ level: 'silent' }) });
    try {
      const routes = routesOf(d.app.printRoutes({ commonPrefix: false }));
      expect(routes).toEqual(expect.arrayContaining(['GET /v1/renders', 'POST /v1/auth/session', 'GET /v1/live/{id}/ws']));
      const doc = (await d.app.inject('/docs/json')).json<{ paths: Record<string, Record<string, unknown>> }>();
      const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${bare(path)}`));
      const missing = routes.filter((r) => !HIDDEN.some((h) => h.test(r)) && !documented.includes(r));
      expect(missing).toEqual([]);
      // a field with a default may be left out (validation fills it): the document must not require it
      const requiredWithDefault: string[] = [];
      const scan = (schema: unknown, at: string): void => {
        if (schema === null || typeof schema !== 'object') return;
        const o = schema as { required?: unknown; properties?: Record<string, { default?: unknown }> };
        if (Array.isArray(o.required) && o.properties) for (const k of o.required) if (o.properties[k]?.default !== undefined) requiredWithDefault.push(`${at} ${k}`);
        for (const [k, v] of Object.entries(o)) scan(v, `${at}/${k}`);
      };
      type Op = { requestBody?: unknown; parameters?: Array<{ name: string; in: string; required?: boolean; schema?: { default?: unknown } }> };
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Op>>)) {
        for (const [method, op] of Object.entries(ops)) {
          scan(op.requestBody, `${method.toUpperCase()} ${path} body`);
          for (const p of op.parameters ?? []) if (p.required && p.schema?.default !== undefined) requiredWithDefault.push(`${method.toUpperCase()} ${path} ${p.in} ${p.name}`);
        }
      }
      expect(requiredWithDefault).toEqual([]);
      const liveStart = (doc.paths['/v1/live/'] ?? doc.paths['/v1/live'])!.post as { requestBody: { content: { 'application/json': { schema: { required: string[] } } } } };
      expect(liveStart.requestBody.content['application/json'].schema.required).toEqual(['audio', 'networks']);
      // no daemon path in it (its roots, state, checkout, home): a client learns names, not where they are
      const text = (await d.app.inject('/docs/json')).body;
      for (const path of [root, process.cwd(), homedir(), tmpdir()]) expect(text.includes(path), path).toBe(false);
      expect(text.match(/"\/(?:home|root|tmp|var|etc|opt|usr|work|srv|mnt)\/[^"\s]*/g)).toBeNull();
    } finally {
      await d.stop();
    }
  });
});
