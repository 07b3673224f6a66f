/** gance thermal step|autotune and gance fans measure|show, offline on the simulator (simulated time). */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { register as registerThermal } from '../../../src/cli/thermal.ts';
import { register } from '../../../src/cli/tuning.ts';
import { parseXml } from '../../helpers/xml.ts';

async function run(args: string[]): Promise<{ out: string; error?: Error; exitCode: number | undefined }> {
  const program = new Command('gance').exitOverride();
  registerThermal(program);
  register(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'gance', ...args]);
    return { out, exitCode: process.exitCode as number | undefined };
  } catch (error) {
    return { out, error: error as Error, exitCode: process.exitCode as number | undefined };
  } finally {
    spy.mockRestore();
    process.exitCode = before;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'gance-tuning-cli-'));
const config = join(dir, 'config.yaml');
writeFileSync(config, readFileSync('config/default.yaml', 'utf8').replace('stateDir: ./state', `stateDir: ${join(dir, 'state')}`));

describe('tuning commands offline', () => {
  it('thermal step prints the fitted model and writes the CSV and a well-formed SVG beside it', async () => {
    const r = await run(['thermal', 'step', '--zone', 'gpu0', '--from', '0.6', '--to', '0.85', '--config', config, '--out', join(dir, 'step')]);
    expect(r.error).toBeUndefined();
    const json = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(json).toMatchObject({ zone: 'gpu0', settled: true, model: { gain: expect.any(Number) } });
    expect(json.model.gain).toBeLessThan(0);
    expect(readFileSync(join(dir, 'step.csv'), 'utf8').split('\n')[0]).toBe('t,temperature,setpoint,duty,rpm');
    expect(parseXml(readFileSync(join(dir, 'step.svg'), 'utf8')).filter((e) => e.name === 'path').map((e) => e.attrs['data-series'])).toEqual(['temperature', 'duty', 'rpm']);
  });

  it('thermal autotune proposes each rule and refuses --apply without a daemon', async () => {
    const r = await run(['thermal', 'autotune', '--zone', 'gpu0', '--config', config, '--out', join(dir, 'at')]);
    expect(r.error).toBeUndefined();
    for (const rule of ['simc', 'tyreus-luyben', 'ziegler-nichols', 'ziegler-nichols-pi']) expect(r.out).toMatch(new RegExp(`^${rule} `, 'm'));
    expect(parseXml(readFileSync(join(dir, 'at.svg'), 'utf8')).some((e) => e.attrs['data-series'] === 'setpoint')).toBe(true);
    expect(parseXml(readFileSync(join(dir, 'at-expected.svg'), 'utf8')).filter((e) => e.name === 'path')).toHaveLength(8);
    const bad = await run(['thermal', 'autotune', '--zone', 'gpu0', '--config', config, '--apply', 'simc']);
    expect(bad.error?.message).toMatch(/--apply changes a running daemon/);
  });

  it('fans measure stores the characterisation; fans show prints it', async () => {
    const r = await run(['fans', 'measure', '--config', config, '--fan', 'gpu1-b', '--out', join(dir, 'fans')]);
    expect(r.error).toBeUndefined();
    expect(r.out).toMatch(/gpu1-b\s+pass\s+9000\s+12%\s+30%/);
    const shown = await run(['fans', 'show', '--config', config]);
    expect(shown.out).toMatch(/gpu1-b\s+pass/);
    expect(parseXml(readFileSync(join(dir, 'fans.svg'), 'utf8')).filter((e) => e.name === 'path').map((e) => e.attrs['data-series'])).toEqual(['gpu1-b']);
  });

  it('fans measure over a stored report that does not read moves it aside and says so on stderr', async () => {
    const state = join(dir, 'state-bad');
    mkdirSync(state);
    const edited = '{"measuredAt": "2026-01-01T00:00:00Z", "fans": [ // gpu0-a retested by hand\n';
    writeFileSync(join(state, 'fan-characterisation.json'), edited);
    const cfg = join(dir, 'config-bad.yaml');
    writeFileSync(cfg, readFileSync(config, 'utf8').replace(`stateDir: ${join(dir, 'state')}`, `stateDir: ${state}`));
    let err = '';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
    let r: Awaited<ReturnType<typeof run>>;
    try {
      r = await run(['fans', 'measure', '--config', cfg, '--fan', 'gpu1-b', '--out', join(dir, 'fans-bad')]);
    } finally {
      spy.mockRestore();
    }
    expect(r.error).toBeUndefined();
    const aside = readdirSync(state).find((f) => f.startsWith('fan-characterisation.json.bad-'))!;
    expect(readFileSync(join(state, aside), 'utf8')).toBe(edited);
    expect(err).toContain(`warning: ${join(state, 'fan-characterisation.json')}: not JSON (`);
    expect(err).toContain(`; moved aside to ${join(state, aside)} (the other fans' figures are there); saved this measurement alone`);
    expect(r.out).toContain(`saved: ${join(state, 'fan-characterisation.json')};`);
  });
});

describe('thermal simulate --out', () => {
  it('writes each zone CSV and a well-formed SVG beside it', async () => {
    const r = await run(['thermal', 'simulate', '--config', config, '--seconds', '120', '--every', '0', '--out', join(dir, 'sim')]);
    expect(r.error).toBeUndefined();
    for (const zone of ['gpu0', 'gpu1']) {
      const csv = readFileSync(join(dir, `sim-${zone}.csv`), 'utf8').trim().split('\n');
      expect(csv[0]).toBe('t,temperature,setpoint,duty,rpm');
      expect(csv.length).toBeGreaterThanOrEqual(120);
      const series = parseXml(readFileSync(join(dir, `sim-${zone}.svg`), 'utf8')).filter((e) => e.name === 'path').map((e) => e.attrs['data-series']);
      expect(series).toEqual(['temperature', 'setpoint', 'duty', 'rpm']);
    }
  });
});
