/**
 * The access hook (src/api/access.ts) through `inject`: Host checks, cross-site refusals, the
 * token on writes (and on reads and /metrics when configured), the session cookie, token files.
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { buildApp } from '../../src/api/app.ts';
import { readTokenFile } from '../../src/api/access.ts';
import { hostName } from '../../src/api/hosts.ts';
import { createRegistry } from '../../src/metrics.ts';
import { parseConfigText } from '../../src/config/load.ts';

const TOKEN = 'a'.repeat(16) + 'b'.repeat(16) + 'c3c3';

/** A subsystem plugin written with no thought for auth: the app-level hook covers it. */
function fakeZones() {
  const state = { setpoint: 75, writes: 0 };
  const plugin: FastifyPluginAsync = async (app) => {
    app.get('/zones/z0', async () => ({ setpoint: state.setpoint }));
    app.patch('/zones/z0', async (req) => {
      state.setpoint = (req.body as { setpoint: number }).setpoint;
      state.writes++;
      return { setpoint: state.setpoint };
    });
    app.post('/networks/demo/load', async () => ({ loaded: true, n: ++state.writes }));
    app.get('/socket', { config: { access: 'write' } }, async () => ({ ok: true }));
  };
  return { state, plugin };
}

async function make(access: Parameters<typeof buildApp>[0]['access'] = {}) {
  const z = fakeZones();
  const registry = createRegistry();
  const app = await buildApp({ registry, notReady: () => [], plugins: [{ prefix: '/v1/test', plugin: z.plugin }], access });
  return { app, state: z.state, registry };
}

const json = { 'content-type': 'application/json' };
const bearer = (t = TOKEN) => ({ authorization: `Bearer ${t}` });

describe('Host header', () => {
  it('bound to loopback: loopback names answer; any other name is 421 with the reason', async () => {
    const { app } = await make();
    for (const host of ['localhost', 'localhost:9840', '127.0.0.1:9840', '[::1]:9840', 'LOCALHOST.']) {
      expect((await app.inject({ url: '/healthz', headers: { host } })).statusCode, host).toBe(200);
    }
    const bad = await app.inject({ url: '/v1/test/zones/z0', headers: { host: 'evil.example:9840' } });
    expect(bad.statusCode).toBe(421);
    expect(bad.json().message).toBe('this daemon does not serve the host "evil.example"; add it to server.allowedHosts if clients use that name');
    // public routes too: a rebinding page must not even learn readiness
    expect((await app.inject({ url: '/healthz', headers: { host: 'evil.example' } })).statusCode).toBe(421);
    await app.close();
  });

  it('server.allowedHosts (exact and *.subdomain), the listen address, and the IP the client connected to', async () => {
    const { app } = await make({ host: '0.0.0.0', token: TOKEN, allowedHosts: ['gance.local', '*.stage.lan'] });
    for (const host of ['gance.local', 'GANCE.local:9840', 'rig.stage.lan', 'localhost', '127.0.0.1']) {
      expect((await app.inject({ url: '/healthz', headers: { host } })).statusCode, host).toBe(200);
    }
    // inject's socket is local 127.0.0.1: another IP literal is not where the client connected
    expect((await app.inject({ url: '/healthz', headers: { host: '10.1.2.3' } })).statusCode).toBe(421);
    expect((await app.inject({ url: '/healthz', headers: { host: 'stage.lan' } })).statusCode).toBe(421);
    await app.close();
    const bound = await make({ host: '192.168.7.2', token: TOKEN });
    expect((await bound.app.inject({ url: '/healthz', headers: { host: '192.168.7.2:9840' } })).statusCode).toBe(200);
    // bound to one LAN address, loopback names are not this daemon
    expect((await bound.app.inject({ url: '/healthz', headers: { host: 'localhost' } })).statusCode).toBe(421);
    await bound.app.close();
  });

  it('parses Host: names, ports, IPv6 brackets', () => {
    expect(hostName('Example.COM:80')).toBe('example.com');
    expect(hostName('[::1]:9840')).toBe('::1');
    expect(hostName('::1')).toBe('::1');
    expect(hostName('')).toBeNull();
    expect(hostName(undefined)).toBeNull();
  });
});

describe('token', () => {
  it('a write without the token is 401 and changes nothing; with it, it applies; reads stay open by default', async () => {
    const { app, state } = await make({ host: '0.0.0.0', token: TOKEN });
    const none = await app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: json, payload: { setpoint: 40 } });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="gance"');
    expect(none.json().message).toMatch(/^PATCH \/v1\/test\/zones\/z0 needs the API token: send Authorization: Bearer/);
    const wrong = await app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: { ...json, ...bearer('x'.repeat(36)) }, payload: { setpoint: 40 } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().message).toBe('the API token (or session cookie) is not valid');
    // a prefix or a longer string is no better than a wrong one
    expect((await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load', headers: bearer(TOKEN.slice(0, -1)) })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load', headers: bearer(`${TOKEN}x`) })).statusCode).toBe(401);
    expect(state).toEqual({ setpoint: 75, writes: 0 });
    expect((await app.inject('/v1/test/zones/z0')).json()).toEqual({ setpoint: 75 });
    const ok = await app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: { ...json, ...bearer() }, payload: { setpoint: 60 } });
    expect(ok.statusCode).toBe(200);
    expect(state.setpoint).toBe(60);
    // an unknown route is 401 too, so probing does not map the API
    expect((await app.inject({ method: 'DELETE', url: '/v1/nothing' })).statusCode).toBe(401);
    expect((await app.inject('/metrics')).statusCode).toBe(200);
    await app.close();
  });

  it('reads and /metrics need it when configured; /healthz and /readyz never do', async () => {
    const { app } = await make({ host: '0.0.0.0', token: TOKEN, read: 'token', metrics: 'token' });
    expect((await app.inject('/v1/test/zones/z0')).statusCode).toBe(401);
    expect((await app.inject('/docs/json')).statusCode).toBe(401);
    expect((await app.inject('/metrics')).statusCode).toBe(401);
    expect((await app.inject({ url: '/metrics', headers: bearer() })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/test/zones/z0', headers: bearer() })).statusCode).toBe(200);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    await app.close();
  });

  it('bound to loopback without a token, writes are open (a token, when configured, is still required)', async () => {
    const open = await make();
    expect((await open.app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: json, payload: { setpoint: 50 } })).statusCode).toBe(200);
    await open.app.close();
    const locked = await make({ token: TOKEN });
    expect((await locked.app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: json, payload: { setpoint: 50 } })).statusCode).toBe(401);
    await locked.app.close();
  });

  it('refusals are counted by reason, and the token is nowhere in /metrics', async () => {
    const { app } = await make({ host: '0.0.0.0', token: TOKEN });
    await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load' });
    await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load', headers: bearer('y'.repeat(40)) });
    await app.inject({ url: '/healthz', headers: { host: 'evil.example' } });
    await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load', headers: { ...bearer(), origin: 'http://evil.example' } });
    const body = (await app.inject('/metrics')).body;
    expect(body).toMatch(/^gance_api_requests_refused_total\{reason="no-token"\} 1$/m);
    expect(body).toMatch(/^gance_api_requests_refused_total\{reason="bad-token"\} 1$/m);
    expect(body).toMatch(/^gance_api_requests_refused_total\{reason="host"\} 1$/m);
    expect(body).toMatch(/^gance_api_requests_refused_total\{reason="cross-site"\} 1$/m);
    expect(body).not.toContain(TOKEN);
    await app.close();
  });

  it('refuses to build with read or metrics on "token" but no token', async () => {
    await expect(buildApp({ registry: createRegistry(), notReady: () => [], access: { read: 'token' } })).rejects.toThrow('server.auth.read: "token" needs server.auth.token or server.auth.tokenFile');
  });
});

describe('cross-site browser requests', () => {
  it('a write from another origin is 403 even with a valid token; the same origin passes', async () => {
    const { app, state } = await make();
    const evil = await app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: { ...json, origin: 'http://evil.example' }, payload: { setpoint: 40 } });
    expect(evil.statusCode).toBe(403);
    expect(evil.json().message).toMatch(/^cross-site request refused: Origin http:\/\/evil\.example is not this daemon/);
    expect((await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load', headers: { origin: 'null' } })).statusCode).toBe(403);
    // same host, another port (e.g. Grafana's): another origin
    expect((await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load', headers: { host: 'localhost:9840', origin: 'http://localhost:3000' } })).statusCode).toBe(403);
    for (const site of ['cross-site', 'same-site']) {
      expect((await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load', headers: { 'sec-fetch-site': site } })).statusCode, site).toBe(403);
    }
    expect(state.writes).toBe(0);
    const same = await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load', headers: { host: 'localhost:9840', origin: 'http://localhost:9840', 'sec-fetch-site': 'same-origin' } });
    expect(same.statusCode).toBe(200);
    // reads from another origin are fine (no CORS headers, so its script cannot read the answer)
    const read = await app.inject({ url: '/v1/test/zones/z0', headers: { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(read.statusCode).toBe(200);
    expect(read.headers['access-control-allow-origin']).toBeUndefined();
    await app.close();
  });

  it('a WebSocket upgrade or a `write` GET from another origin is 403', async () => {
    const { app } = await make();
    expect((await app.inject({ url: '/v1/test/zones/z0', headers: { upgrade: 'websocket', connection: 'Upgrade', origin: 'http://evil.example' } })).statusCode).toBe(403);
    expect((await app.inject({ url: '/v1/test/socket', headers: { origin: 'http://evil.example' } })).statusCode).toBe(403);
    expect((await app.inject({ url: '/v1/test/socket', headers: { host: 'localhost', origin: 'http://localhost' } })).statusCode).toBe(200);
    await app.close();
  });

  it('a body-less POST with a form content type (what any site\'s <form> can send) is 403; without a content type it passes', async () => {
    const { app, state } = await make();
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain;charset=UTF-8']) {
      const r = await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load', headers: { 'content-type': type } });
      expect(r.statusCode, type).toBe(403);
      expect(r.json().message).toContain('is refused (what a cross-site form sends)');
    }
    expect(state.writes).toBe(0);
    expect((await app.inject({ method: 'POST', url: '/v1/test/networks/demo/load' })).statusCode).toBe(200);
    await app.close();
  });

  it('no CORS unless configured; a configured origin gets its preflight and its header', async () => {
    const plain = await make();
    const pre = await plain.app.inject({ method: 'OPTIONS', url: '/v1/test/zones/z0', headers: { origin: 'http://grafana.local:3000', 'access-control-request-method': 'PATCH' } });
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect(pre.statusCode).toBeGreaterThanOrEqual(400);
    await plain.app.close();

    const { app, state } = await make({ host: '0.0.0.0', token: TOKEN, corsOrigins: ['http://grafana.local:3000'] });
    const ok = await app.inject({ method: 'OPTIONS', url: '/v1/test/zones/z0', headers: { origin: 'http://grafana.local:3000', 'access-control-request-method': 'PATCH' } });
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('http://grafana.local:3000');
    expect(ok.headers['access-control-allow-headers']).toContain('authorization');
    expect((await app.inject({ method: 'OPTIONS', url: '/v1/test/zones/z0', headers: { origin: 'http://evil.example' } })).statusCode).toBe(403);
    const write = await app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: { ...json, ...bearer(), origin: 'http://grafana.local:3000', 'sec-fetch-site': 'cross-site' }, payload: { setpoint: 70 } });
    expect(write.statusCode).toBe(200);
    expect(write.headers['access-control-allow-origin']).toBe('http://grafana.local:3000');
    expect(state.setpoint).toBe(70);
    // the origin is trusted to ask, not in place of the token
    expect((await app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: { ...json, origin: 'http://grafana.local:3000' }, payload: { setpoint: 1 } })).statusCode).toBe(401);
    await app.close();
  });
});

describe('session cookie (pages and WebSockets present the token once)', () => {
  it('POST /v1/auth/session with the token sets an HttpOnly SameSite=Strict cookie that then authorizes writes until it expires', async () => {
    let clock = Date.UTC(2026, 11, 2, 12);
    const { app, state } = await make({ host: '0.0.0.0', token: TOKEN, sessionTtlSeconds: 600, now: () => clock });
    const login = await app.inject({ method: 'POST', url: '/v1/auth/session', headers: bearer() });
    expect(login.statusCode).toBe(200);
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/^gance_session=[^;]+; Path=\/; Max-Age=600; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain(TOKEN);
    expect(login.json().expiresAt).toBe(new Date(clock + 600_000).toISOString());
    const cookie = setCookie.split(';')[0]!;

    const viaBody = await app.inject({ method: 'POST', url: '/v1/auth/session', headers: json, payload: { token: TOKEN } });
    expect(viaBody.statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/v1/auth/session', headers: json, payload: { token: 'z'.repeat(40) } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/v1/auth/session' })).statusCode).toBe(401);

    expect((await app.inject({ url: '/v1/auth/session', headers: { cookie } })).json()).toMatchObject({ authenticated: true, via: 'cookie', tokenRequired: { write: true, read: false, metrics: false } });
    const w = await app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: { ...json, cookie: `other=1; ${cookie}` }, payload: { setpoint: 65 } });
    expect(w.statusCode).toBe(200);
    expect(state.setpoint).toBe(65);

    // tampered: another expiry with the old signature
    const [name, value] = cookie.split('=') as [string, string];
    const [, nonce, mac] = value.split('.');
    const forged = `${name}=${Math.floor(clock / 1000) + 99_999}.${nonce}.${mac}`;
    expect((await app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: { ...json, cookie: forged }, payload: { setpoint: 1 } })).statusCode).toBe(401);
    clock += 601_000;
    expect((await app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: { ...json, cookie }, payload: { setpoint: 1 } })).statusCode).toBe(401);
    expect(state.setpoint).toBe(65);

    const out = await app.inject({ method: 'DELETE', url: '/v1/auth/session' });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^gance_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/);
    await app.close();
  });

  it('POST /v1/auth/session: its JSON body is in the OpenAPI document, and that schema is what refuses a bad body (400 naming the field)', async () => {
    const { app } = await make({ host: '0.0.0.0', token: TOKEN });
    const doc = (await app.inject('/docs/json')).json<{ paths: Record<string, { post?: { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown>; additionalProperties?: boolean } }> } } }> }>();
    const body = doc.paths['/v1/auth/session']?.post?.requestBody;
    expect(body?.content['application/json']?.schema).toMatchObject({ properties: { token: { type: 'string', maxLength: 1024 } }, additionalProperties: false });
    const post = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/auth/session', headers: json, payload });
    const extra = await post({ token: TOKEN, user: 'x' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().message).toMatch(/^body .*"user"/);
    const long = await post({ token: 'x'.repeat(1025) });
    expect(long.statusCode).toBe(400);
    expect(long.json().message).toMatch(/^body\/token\b.*1024/);
    // the header alone (no body, so no content type) still logs in
    expect((await app.inject({ method: 'POST', url: '/v1/auth/session', headers: bearer() })).statusCode).toBe(200);
    expect((await post({ token: TOKEN })).statusCode).toBe(200);
    await app.close();
  });

  it('a cookie signed under another token is refused (a new token ends every session), and a cross-site login is 403', async () => {
    const a = await make({ host: '0.0.0.0', token: TOKEN });
    const cookie = String((await a.app.inject({ method: 'POST', url: '/v1/auth/session', headers: bearer() })).headers['set-cookie']).split(';')[0]!;
    expect((await a.app.inject({ method: 'POST', url: '/v1/auth/session', headers: { ...bearer(), origin: 'http://evil.example' } })).statusCode).toBe(403);
    await a.app.close();
    const b = await make({ host: '0.0.0.0', token: 'n'.repeat(40) });
    expect((await b.app.inject({ method: 'POST', url: '/v1/test/networks/demo/load', headers: { cookie } })).statusCode).toBe(401);
    await b.app.close();
  });
});

describe('login link (a stage laptop opens it once)', () => {
  it('POST /v1/auth/link (token needed) gives a single-use link that sets the cookie and redirects to its page; used, expired, altered or retargeted links are 401', async () => {
    let clock = Date.UTC(2026, 11, 2, 12);
    const { app, state } = await make({ host: '0.0.0.0', token: TOKEN, now: () => clock });
    expect((await app.inject({ method: 'POST', url: '/v1/auth/link', headers: json, payload: {} })).statusCode).toBe(401);
    const made = await app.inject({ method: 'POST', url: '/v1/auth/link', headers: { ...json, ...bearer() }, payload: { next: '/v1/test/zones/z0', ttlSeconds: 60 } });
    expect(made.statusCode).toBe(200);
    const link = made.json().url as string;
    expect(link).toMatch(/^\/v1\/auth\/enter\?ticket=[\w.-]+&next=%2Fv1%2Ftest%2Fzones%2Fz0$/);
    expect(link).not.toContain(TOKEN);

    const retarget = link.replace('next=%2Fv1%2Ftest%2Fzones%2Fz0', 'next=%2Fdocs');
    expect((await app.inject(retarget)).statusCode).toBe(401);
    const enter = await app.inject(link);
    expect(enter.statusCode).toBe(303);
    expect(enter.headers.location).toBe('/v1/test/zones/z0');
    const cookie = String(enter.headers['set-cookie']).split(';')[0]!;
    expect(String(enter.headers['set-cookie'])).toContain('HttpOnly; SameSite=Strict');
    expect((await app.inject({ method: 'PATCH', url: '/v1/test/zones/z0', headers: { ...json, cookie }, payload: { setpoint: 66 } })).statusCode).toBe(200);
    expect(state.setpoint).toBe(66);
    const again = await app.inject(link);
    expect(again.statusCode).toBe(401);
    expect(again.json().message).toContain('expired, was used already, or was altered');

    const late = (await app.inject({ method: 'POST', url: '/v1/auth/link', headers: { ...json, ...bearer() }, payload: { ttlSeconds: 10 } })).json().url as string;
    clock += 11_000;
    expect((await app.inject(late)).statusCode).toBe(401);
    // a link may only lead to a page of this daemon
    for (const next of ['//evil.example/x', '/\\evil.example', 'http://evil.example']) {
      expect((await app.inject({ method: 'POST', url: '/v1/auth/link', headers: { ...json, ...bearer() }, payload: { next } })).statusCode, next).toBe(400);
    }
    await app.close();
  });
});

describe('token sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gance-token-'));
  const file = (name: string, text: string, mode = 0o600) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, mode);
    return p;
  };

  it('reads a token file (whitespace around ignored); refuses one every user can read, a short one, a missing one, naming the field and never the content', () => {
    expect(readTokenFile(file('ok', `  ${TOKEN}\n`))).toBe(TOKEN);
    expect(() => readTokenFile(file('world', TOKEN, 0o644))).toThrow(/^server\.auth\.tokenFile: .*world is readable by every user \(mode 0644\)/);
    expect(() => readTokenFile(file('short', 'secret-but-short'))).toThrow(/^server\.auth\.tokenFile: the token in .* must be at least 32 characters \(it has 16\)/);
    expect(() => readTokenFile(file('two', `${TOKEN} ${TOKEN}`))).toThrow('must be one word');
    expect(() => readTokenFile(join(dir, 'absent'))).toThrow(/^server\.auth\.tokenFile: cannot read .*absent: file not found$/);
    try {
      readTokenFile(file('short2', 'hunter2hunter2'));
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  const base = 'cooler: { driver: simulated, fans: [{ id: f0, channel: 0 }] }\nthermal: { sensors: { source: simulated }, zones: [{ id: z0, gpus: [0], fans: [f0], mode: pid, pid: { setpoint: 75 } }] }\n';
  it('config: off loopback a token is required, naming the field; too short, both, and read=token without one are refused', () => {
    expect(() => parseConfigText(`server: { host: 0.0.0.0 }\n${base}`, 'c.yaml')).toThrow(/server\.auth\.tokenFile: required when server\.host is 0\.0\.0\.0 \(not loopback\)/);
    expect(() => parseConfigText(`server: { host: 192.168.1.4 }\n${base}`, 'c.yaml')).toThrow(/server\.auth\.tokenFile: required/);
    expect(parseConfigText(`server: { host: 0.0.0.0, auth: { token: ${TOKEN} } }\n${base}`, 'c.yaml').server.auth.token).toBe(TOKEN);
    expect(parseConfigText(`server: { host: 0.0.0.0, auth: { tokenFile: /etc/gance/token } }\n${base}`, 'c.yaml').server.auth.read).toBe('open');
    expect(parseConfigText(`server: { host: localhost }\n${base}`, 'c.yaml').server.auth.token).toBeUndefined();
    let msg = '';
    try {
      parseConfigText(`server: { host: 0.0.0.0, auth: { token: short-secret-x } }\n${base}`, 'c.yaml');
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toContain('server.auth.token: must be at least 32 characters');
    expect(msg).not.toContain('short-secret-x');
    expect(() => parseConfigText(`server: { auth: { token: ${TOKEN}, tokenFile: /x } }\n${base}`, 'c.yaml')).toThrow('server.auth: set token or tokenFile, not both');
    // a header value is trimmed on the way (and GANCE_TOKEN by the CLI): such a token could never be sent
    for (const spaced of [`"${TOKEN} "`, `" ${TOKEN}"`, `"${TOKEN.slice(0, 16)} ${TOKEN.slice(16)}"`]) {
      let spacedMsg = '';
      try {
        parseConfigText(`server: { auth: { token: ${spaced} } }\n${base}`, 'c.yaml');
      } catch (err) {
        spacedMsg = (err as Error).message;
      }
      expect(spacedMsg).toContain('server.auth.token: must be one word (no whitespace in it or around it)');
      expect(spacedMsg).not.toContain(TOKEN.slice(0, 16));
    }
    expect(() => parseConfigText(`server: { auth: { metrics: token } }\n${base}`, 'c.yaml')).toThrow('server.auth.metrics: "token" needs server.auth.token or server.auth.tokenFile');
    expect(() => parseConfigText(`server: { allowedHosts: ["bad host"] }\n${base}`, 'c.yaml')).toThrow(/server\.allowedHosts\[0\]/);
  });
});
