/** gance thermal status|set|reset|simulate */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { loadConfigFile } from '../../src/config/load.ts';
import { register } from '../../src/cli/thermal.ts';
import { register as registerTuning } from '../../src/cli/tuning.ts';
import { simulate } from '../../src/cli/thermal-simulate.ts';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parse, stringify } from 'yaml';
import { DEFAULT_CONFIG_PATH } from '../../src/config/paths.ts';
import { dirname, join } from 'node:path';
import { harness, untilAsync, type Harness } from '../thermal/service/harness.ts';

async function run(args: string[]): Promise<{ out: string; err: string; error?: Error; exitCode: number | undefined }> {
  const program = new Command('gance').exitOverride();
  register(program);
  registerTuning(program);
  let out = '';
  let err = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'gance', ...args]);
    return { out, err, exitCode: process.exitCode as number | undefined };
  } catch (error) {
    return { out, err, error: error as Error, exitCode: process.exitCode as number | undefined };
  } finally {
    spy.mockRestore();
    spyErr.mockRestore();
    process.exitCode = before;
  }
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('gance thermal', () => {
  it('simulate runs the real controllers against the plant offline and keeps the default below critical', () => {
    const r = simulate({ config: loadConfigFile(), profile: 'standard', seconds: 900 });
    expect(r.zones.map((z) => z.zone)).toEqual(['gpu0', 'gpu1']);
    for (const z of r.zones) {
      expect(z.peakC).toBeGreaterThan(60);
      expect(z.peakC).toBeLessThan(loadConfigFile().thermal.zones[0]!.criticalCelsius);
      expect(z.secondsAtOrAboveCritical).toBe(0);
      expect(z.meanDba).toBeGreaterThan(10);
      expect(z.failsafeSteps).toBe(0);
    }
  });

  it('simulate honours mode/setpoint overrides (a fixed full duty is loud and cool)', () => {
    const config = loadConfigFile();
    const pid = simulate({ config, profile: 'full', seconds: 600 }).zones[0]!;
    const full = simulate({ config, profile: 'full', seconds: 600, patch: { mode: 'fixed', fixedDuty: 1 } }).zones[0]!;
    expect(full.peakC).toBeLessThan(pid.peakC);
    expect(full.meanDba).toBeGreaterThan(pid.meanDba! + 3);
  });

  it('simulate from the command line prints a timeline, a table and a JSON last line', async () => {
    const r = await run(['thermal', 'simulate', '--profile', 'full', '--seconds', '120', '--every', '30']);
    expect(r.error).toBeUndefined();
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toMatch(/^T\s+gpu0 W\s+gpu0 C/);
    expect(r.out).toMatch(/^ZONE\s+PEAK/m);
    const last = JSON.parse(lines.at(-1)!);
    expect(last).toMatchObject({ profile: 'full', seconds: 120, zones: [{ zone: 'gpu0' }, { zone: 'gpu1' }] });
    const bad = await run(['thermal', 'simulate', '--profile', 'lunar']);
    expect(bad.error?.message).toContain('--profile must be standard, idle or full, got "lunar"');
  });

  it('simulate with the fans stopped prints "off" for their level, never -200 dBA, and null (not a made-up number) in the JSON', async () => {
    // every zone fixed at 0%: the fans stand still the whole run, silence has no finite dB level
    const doc = parse(readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as { thermal: { zones: Record<string, unknown>[] } };
    for (const z of doc.thermal.zones) Object.assign(z, { mode: 'fixed', fixedDuty: 0 });
    const path = join(mkdtempSync(join(tmpdir(), 'gance-sim-')), 'silent.yaml');
    writeFileSync(path, stringify(doc));
    const r = await run(['thermal', 'simulate', '--config', path, '--profile', 'idle', '--seconds', '120', '--every', '30']);
    expect(r.error).toBeUndefined();
    expect(r.out).not.toMatch(/-200/);
    const lines = r.out.trim().split('\n');
    // the timeline's dBA columns and the summary's MEAN/PEAK dBA
    expect(lines.find((l) => l.startsWith('60 s'))!.split(/\s+/).filter((c) => c === 'off')).toHaveLength(2);
    const summary = lines.filter((l) => /^gpu\d\s/.test(l));
    expect(summary).toHaveLength(2);
    for (const l of summary) expect(l).toMatch(/\boff\s+off\b/);
    const last = JSON.parse(lines.at(-1)!) as { zones: { meanDba: number | null; peakDba: number | null }[] };
    for (const z of last.zones) expect(z).toMatchObject({ meanDba: null, peakDba: null });
  });

  it('an --out prefix in a folder that does not exist is refused before the run, naming it (not ENOENT after it)', async () => {
    const prefix = join(tmpdir(), 'gance-no-such-folder', 'p');
    const sim = await run(['thermal', 'simulate', '--profile', 'full', '--seconds', '60', '--json', '--out', prefix]);
    expect(sim.error?.message).toBe(`--out ${prefix}: folder ${dirname(prefix)} does not exist or is not writable`);
    expect(sim.out).toBe('');
    // an experiment takes minutes on a real rig: refused before it starts
    const step = await run(['thermal', 'step', '--zone', 'gpu0', '--from', '0.5', '--to', '0.75', '--out', prefix]);
    expect(step.error?.message).toBe(`--out ${prefix}: folder ${dirname(prefix)} does not exist or is not writable`);
    expect(step.out).toBe('');
  });

  it('status, set and reset talk to a running daemon over HTTP', async () => {
    h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } } });
    const url = await h.app.listen({ host: '127.0.0.1', port: 0 });
    await untilAsync('sample', async () => (await h!.zone()).temperature !== null);
    const st = await run(['thermal', 'status', '--url', url]);
    expect(st.error).toBeUndefined();
    expect(st.out).toMatch(/^ZONE\s+MODE\s+TEMP\s+SETPOINT\s+DUTY/m);
    expect(st.out).toMatch(/^gpu0\s+pid\s+\d+\.\d C\s+70\.0 C/m);
    expect(st.out).toMatch(/^gpu0-a\s+gpu0\s+\d+%/m);
    expect(st.out).toContain('sensors: simulated streaming');
    const json = await run(['thermal', 'status', '--url', url, '--json']);
    expect(JSON.parse(json.out).zones[0].id).toBe('gpu0');

    const set = await run(['thermal', 'set', 'gpu0', '--setpoint', '66', '--kp', '0.02', '--url', url]);
    expect(set.out).toContain('gpu0: mode pid, setpoint 66 C, kp 0.02');
    expect((await h.zone()).setpoint).toBe(66);
    const bad = await run(['thermal', 'set', 'gpu0', '--mode', 'turbo', '--url', url]);
    expect(bad.error?.message).toBe('PATCH /v1/thermal/zones/gpu0: 400 body/mode must be one of: "pid", "curve", "fixed"');
    const none = await run(['thermal', 'set', 'nope', '--setpoint', '60', '--url', url]);
    expect(none.error?.message).toContain('404 no zone "nope"');
    const reset = await run(['thermal', 'reset', 'gpu0', '--url', url]);
    expect(reset.out).toContain('back to the config file (mode pid, setpoint 70 C)');

    h.rig.override(0, { temperature: 99 });
    await untilAsync('critical', async () => (await h!.zone()).alarms.some((a) => a.kind === 'critical'));
    const hot = await run(['thermal', 'status', '--url', url]);
    expect(hot.out).toMatch(/FAILSAFE: critical\(gpu0\)/);
    expect(hot.exitCode).toBe(3);
  });

  it('set changes the curve and limits as the README says (--curve, --min-duty, --max-duty, --critical); a curve not written T:D,T:D is refused naming the option', async () => {
    h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } } });
    const url = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const r = await run(['thermal', 'set', 'gpu0', '--mode', 'curve', '--curve', '40:0,70:0.4,95:1', '--min-duty', '0.3', '--max-duty', '0.9', '--critical', '88', '--url', url]);
    expect(r.error).toBeUndefined();
    expect(r.out).toContain('gpu0: mode curve');
    expect((await h.zone()).settings).toMatchObject({ mode: 'curve', curve: [[40, 0], [70, 0.4], [95, 1]], minDuty: 0.3, maxDuty: 0.9, criticalCelsius: 88 });
    for (const v of ['40', '40:0', '40:0,x:1', '40:0,70:2', '40:0;70:1', '']) {
      const bad = await run(['thermal', 'set', 'gpu0', '--curve', v, '--url', url]);
      expect(bad.error?.message, JSON.stringify(v)).toContain(`--curve must be 2 to 32 points TEMPERATURE:DUTY separated by commas (C in -40..150, duty in 0..1), e.g. 40:0,70:0.33,100:1; got "${v}"`);
    }
    // the daemon's own rules still apply, named as it names them
    const falling = await run(['thermal', 'set', 'gpu0', '--curve', '40:1,90:0', '--url', url]);
    expect(falling.error?.message).toMatch(/400 curve\[1\]: duties must not fall/);
  });

  it('set warns on stderr when the change cools less than the config file, and exits 4 when the daemon could not save it', async () => {
    h = await harness({ zone: { mode: 'pid', pid: { setpoint: 70 } } });
    const url = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const weaker = await run(['thermal', 'set', 'gpu0', '--mode', 'fixed', '--duty', '0', '--url', url]);
    expect(weaker.error).toBeUndefined();
    expect(weaker.exitCode).toBeUndefined();
    expect(weaker.err).toBe('warning: zone gpu0: mode fixed at fixedDuty 0: the fans do not follow the temperature; only criticalCelsius (90) raises them\n');
    // the daemon's state file cannot be written (a full disk)
    symlinkSync('/dev/full', join(h.stateDir, `thermal-tuning.json.${process.pid}.tmp`));
    const unsaved = await run(['thermal', 'set', 'gpu0', '--mode', 'pid', '--url', url]);
    expect(unsaved.out).toContain('gpu0: mode pid');
    expect(unsaved.err).toMatch(/^warning: zone gpu0: applied, but NOT saved in the daemon's state directory/);
    expect(unsaved.exitCode).toBe(4);
  });

  it('refuses option values that are not plain decimal numbers: "" is not 0, 0x46 is not 70', async () => {
    const url = 'http://127.0.0.1:1';
    for (const v of ['', ' ', '0x46', '1e400', 'Infinity', '70C', '0b1']) {
      const r = await run(['thermal', 'set', 'gpu0', '--setpoint', v, '--url', url]);
      expect(r.error?.message, JSON.stringify(v)).toContain(`--setpoint must be a number in -40..150, got "${v}"`);
    }
    for (const v of ['', '0x1']) {
      const r = await run(['thermal', 'step', '--zone', 'gpu0', '--from', v, '--to', '1']);
      expect(r.error?.message, JSON.stringify(v)).toContain(`--from must be a number in 0..1, got "${v}"`);
    }
    // what a number looks like is taken: the request goes out (and finds no daemon)
    for (const v of ['70', '70.5', '-5', '+7.5e1', '.5']) {
      const r = await run(['thermal', 'set', 'gpu0', '--setpoint', v, '--url', url]);
      expect(r.error?.message, v).toMatch(/^cannot reach the daemon/);
    }
  });

  it('says clearly when no daemon answers', async () => {
    const r = await run(['thermal', 'status', '--url', 'http://127.0.0.1:1']);
    expect(r.error?.message).toMatch(/^cannot reach the daemon at http:\/\/127\.0\.0\.1:1 \(.+\); is it running\? \(--url\)$/);
  });
});
