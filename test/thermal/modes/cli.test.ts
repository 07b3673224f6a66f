/** gance thermal mode against a listening daemon process: list, switch, clear, and a clear error for an unknown mode. */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ZoneView } from '../../../src/thermal/service/view.ts';
import { spawnCli, testConfigYaml, writeTempConfig, type DaemonProcess } from '../../helpers/daemon-process.ts';

function gance(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/gance.js', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

let d: DaemonProcess;
let base: string;

beforeAll(async () => {
  const yaml = testConfigYaml().replace(
    /\n$/,
    `\n  modes:\n    - { name: stage-quiet, description: quiet on stage, all: { pid: { setpoint: 80 }, slewUpPerSecond: 0.05 } }\n    - { name: studio-render, zones: { z0: { pid: { setpoint: 65 } } } }\n`,
  );
  d = spawnCli(['daemon', '--config', writeTempConfig(yaml)]);
  base = (await d.waitFor((l) => typeof l.address === 'string', 90_000)).address as string;
  // the API listens before thermal control has loaded its saved tunings; a switch before that is a 409
  await d.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('thermal control started'), 90_000);
}, 120_000);

afterAll(async () => {
  if (d && d.child.exitCode === null) d.child.kill('SIGTERM');
  await d?.exited;
});

describe('gance thermal mode', () => {
  it('lists the modes, switches to one (the zone follows, provenance names it), clears it, and refuses an unknown one', { timeout: 120_000 }, async () => {
    let r = await gance(['thermal', 'mode', '--url', base]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\s+stage-quiet\s+z0: pid\.setpoint, slewUpPerSecond\s+quiet on stage$/m);
    expect(r.stdout).toMatch(/^\s+studio-render\s+z0: pid\.setpoint$/m);
    expect(r.stdout).toMatch(/^active: none$/m);

    r = await gance(['thermal', 'mode', 'studio-render', '--url', base]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^mode studio-render applied$/m);
    expect(r.stdout).toMatch(/^\*\s+studio-render/m);
    expect(r.stdout).toMatch(/^active: studio-render \(applied .+\)$/m);
    const z = (await (await fetch(`${base}/v1/thermal/zones/z0`)).json()) as ZoneView;
    expect(z.setpoint).toBe(65);
    expect(z.provenance['pid.setpoint']).toMatchObject({ source: 'mode', mode: 'studio-render' });

    const status = await gance(['thermal', 'status', '--url', base]);
    expect(status.stdout).toMatch(/^mode: studio-render \(applied .+\)$/m);

    r = await gance(['thermal', 'mode', 'disco', '--url', base]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('PUT /v1/thermal/mode: 404 no mode "disco" (modes: stage-quiet, studio-render)');

    r = await gance(['thermal', 'mode', '--off', '--url', base, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ active: null, persisted: true });
    expect(((await (await fetch(`${base}/v1/thermal/zones/z0`)).json()) as ZoneView).setpoint).toBe(75);
  });
});
