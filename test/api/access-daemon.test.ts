/**
 * The done-when of authentication, on the real command and a real listening socket: off loopback
 * no token means no start; with one, a write without it is 401 and the zone is untouched; a
 * foreign Host header is refused; the log says where it really listens and never holds the token.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, REPO, spawnCli, testConfigYaml, writeTempConfig, type DaemonProcess } from '../helpers/daemon-process.ts';

const running: DaemonProcess[] = [];
afterEach(() => {
  for (const d of running.splice(0)) d.child.kill('SIGKILL');
});
const track = (d: DaemonProcess) => (running.push(d), d);
const NO_SYNTHESIS = 'synthesis: { enabled: false }\n';
const TOKEN = 'f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a59687';

/** node:http, not fetch: fetch will not send a Host header of our choosing */
function call(url: string, opts: { method?: string; host?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: opts.method ?? 'GET',
        // a connection each: node 20's global agent keeps sockets alive, and one the daemon closed after
        // keepAliveTimeoutMs while a slow CLI run went on was reused as the next call sent ("socket hang up")
        agent: false,
        headers: { host: opts.host ?? u.host, ...(payload ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('daemon on a non-loopback address', () => {
  it('gance config check prints the token as <redacted>', async () => {
    const d = track(spawnCli(['config', 'check', writeTempConfig(testConfigYaml().replace('host: 127.0.0.1', `host: 0.0.0.0, auth: { token: ${TOKEN} }`))]));
    let out = '';
    d.child.stdout.removeAllListeners('data').setEncoding('utf8').on('data', (c: string) => (out += c));
    expect((await d.exited).code).toBe(0);
    expect(out).toMatch(/token: <redacted>/);
    expect(out + d.stderr).not.toContain(TOKEN);
  });

  it('without a token it does not start, and says which setting is missing', async () => {
    const d = track(spawnCli(['daemon', '--config', writeTempConfig(testConfigYaml(NO_SYNTHESIS).replace('host: 127.0.0.1', 'host: 0.0.0.0'))]));
    const { code } = await d.exited;
    expect(code).toBe(2);
    expect(d.stderr).toContain('server.auth.tokenFile: required when server.host is 0.0.0.0 (not loopback)');
    expect(d.lines).toHaveLength(0); // refused before anything (cooler, fans) started
  });

  it('a token file every user can read stops it before it touches the fans', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-tok-'));
    const file = join(dir, 'token');
    writeFileSync(file, TOKEN);
    chmodSync(file, 0o644);
    const d = track(spawnCli(['daemon', '--config', writeTempConfig(testConfigYaml(NO_SYNTHESIS).replace('host: 127.0.0.1', `host: 0.0.0.0, auth: { tokenFile: ${file} }`))]));
    const { code } = await d.exited;
    expect(code).not.toBe(0);
    expect(d.stderr).toContain('server.auth.tokenFile:');
    expect(d.stderr).toContain('is readable by every user');
  });

  it('with a token: writes without it are 401 and change nothing, a foreign Host is 421, the log says 0.0.0.0 and never holds the token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-tok-'));
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    chmodSync(file, 0o600);
    const yaml = testConfigYaml(`${NO_SYNTHESIS}log: { level: trace }\n`).replace('host: 127.0.0.1', `host: 0.0.0.0, auth: { tokenFile: ${file} }`);
    const d = track(spawnCli(['daemon', '--config', writeTempConfig(yaml)]));
    const listening = await d.waitFor((l) => typeof l.address === 'string');
    const url = listening.address as string;
    // writes are refused (409) until thermal control has loaded its saved tunings
    await d.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('thermal control started'));
    const port = new URL(url).port;
    expect(listening.msg).toContain(`gance API listening on 0.0.0.0:${port} (every IPv4 address of this machine)`);
    expect(listening.msg).toContain('token required for writes');

    // what a write could change (the readings move on their own)
    const zone = async () => {
      const z = JSON.parse((await call(`${url}/v1/thermal/zones/z0`)).body) as { setpoint: number; mode: string; settings: unknown; persisted: boolean };
      return { setpoint: z.setpoint, mode: z.mode, settings: z.settings, persisted: z.persisted };
    };
    const before = await zone();
    expect(before.setpoint).toBe(75);
    const writes: Array<[string, string, unknown]> = [
      ['PATCH', '/v1/thermal/zones/z0', { mode: 'fixed', duty: 0 }],
      ['PATCH', '/v1/thermal/zones/z0', { criticalCelsius: 104 }],
      ['DELETE', '/v1/thermal/zones/z0/tuning', undefined],
    ];
    for (const [method, path, body] of writes) {
      const r = await call(`${url}${path}`, { method, body });
      expect(r.status, `${method} ${path}`).toBe(401);
      const wrong = await call(`${url}${path}`, { method, body, headers: { authorization: `Bearer ${TOKEN.replace(/f/g, 'e')}` } });
      expect(wrong.status).toBe(401);
    }
    expect(await zone()).toEqual(before);

    const foreign = await call(`${url}/v1/thermal/zones/z0`, { host: `rebind.evil.example:${port}` });
    expect(foreign.status).toBe(421);
    expect(JSON.parse(foreign.body).message).toContain('does not serve the host "rebind.evil.example"');
    // the same with the token: the Host check is not an authentication question
    expect((await call(`${url}/v1/thermal/zones/z0`, { method: 'PATCH', host: 'evil.example', body: { pid: { setpoint: 60 } }, headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(421);

    const ok = await call(`${url}/v1/thermal/zones/z0`, { method: 'PATCH', body: { pid: { setpoint: 70 } }, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect((await zone()).setpoint).toBe(70);
    // the CLI on the rig: without the token it is told why; with GANCE_TOKEN_FILE it works
    const cli = (env: Record<string, string>) => spawnSync(process.execPath, [CLI, 'thermal', 'set', 'z0', '--setpoint', '68', '--url', url], { cwd: REPO, encoding: 'utf8', env: { ...process.env, GANCE_TOKEN: '', GANCE_TOKEN_FILE: '', ...env } });
    const refused = cli({ GANCE_TOKEN_FILE: join(dir, 'absent') });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('GANCE_TOKEN_FILE: cannot read');
    const noToken = cli({ GANCE_TOKEN: 'not-the-token-but-long-enough-0123456789' });
    expect(noToken.status).not.toBe(0);
    expect(noToken.stderr).toContain('401');
    expect((await zone()).setpoint).toBe(70);
    const set = cli({ GANCE_TOKEN_FILE: file });
    expect(set.status, set.stderr).toBe(0);
    expect((await zone()).setpoint).toBe(68);
    const session = await call(`${url}/v1/auth/session`, { method: 'POST', body: { token: TOKEN } });
    expect(session.status).toBe(200);
    expect((await call(`${url}/metrics`)).body).not.toContain(TOKEN);

    d.child.kill('SIGTERM');
    await d.exited;
    const everything = d.lines.map((l) => JSON.stringify(l)).join('\n') + d.stderr;
    expect(d.lines.length).toBeGreaterThan(10); // trace level: request logs were on
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(TOKEN.slice(0, 16));
  }, 60_000);
});
