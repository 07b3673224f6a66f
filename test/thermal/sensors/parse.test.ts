import { describe, expect, it } from 'vitest';
import { EVENT_REASONS_FIELD, THROTTLE_REASONS_FIELD, parseLine, queryFields, rejectedField, throttleNames } from '../../../src/thermal/sensors/parse.ts';

const fields = queryFields(EVENT_REASONS_FIELD);

describe('nvidia-smi CSV parser', () => {
  it('parses a line as nvidia-smi prints it with nounits', () => {
    const r = parseLine('0, GPU-5c3a0f6e-7d1b-4b8f-9a55-0e0c1d2e3f40, 67, 148.52, 97, 0x0000000000000024', fields);
    expect(r).toEqual({
      ok: true,
      sample: {
        index: 0,
        uuid: 'GPU-5c3a0f6e-7d1b-4b8f-9a55-0e0c1d2e3f40',
        temperatureC: 67,
        powerW: 148.52,
        utilization: 0.97,
        throttleMask: 0x24,
        throttleReasons: ['sw_power_cap', 'sw_thermal_slowdown'],
      },
    });
  });

  it('reads [N/A] and [Not Supported] as no reading, not as zero', () => {
    const r = parseLine('1, GPU-abc, [N/A], [Not Supported], [N/A], [Not Supported]', fields);
    expect(r.ok && r.sample).toMatchObject({ index: 1, temperatureC: null, powerW: null, utilization: null, throttleMask: null, throttleReasons: [] });
    const lost = parseLine('1, GPU-abc, [GPU is lost], 30.00, 0, 0x0000000000000000', fields);
    expect(lost.ok && lost.sample.temperatureC).toBeNull();
  });

  it('accepts the older throttle-reasons column and no reasons column at all', () => {
    const old = parseLine('0, GPU-a, 50, 40.00, 3, 0x0000000000000001', queryFields(THROTTLE_REASONS_FIELD));
    expect(old.ok && old.sample.throttleReasons).toEqual(['gpu_idle']);
    const none = parseLine('0, GPU-a, 50, 40.00, 3', queryFields(null));
    expect(none.ok && none.sample.throttleMask).toBeNull();
  });

  it('tolerates units left in the values', () => {
    const r = parseLine('0, GPU-a, 50, 40.00 W, 3 %, 0x0000000000000000', fields);
    expect(r.ok && r.sample).toMatchObject({ powerW: 40, utilization: 0.03 });
  });

  it('rejects lines that are not samples, naming the column', () => {
    expect(parseLine('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.', fields)).toMatchObject({ ok: false, reason: expect.stringContaining('expected 6 columns') });
    expect(parseLine('x, GPU-a, 50, 40.00, 3, 0x0', fields)).toMatchObject({ ok: false, reason: expect.stringContaining('index') });
    expect(parseLine('0, GPU-a, hot, 40.00, 3, 0x0', fields)).toMatchObject({ ok: false, reason: expect.stringContaining('temperature.gpu') });
    expect(parseLine('0, GPU-a, 50, 40.00, 3, 24', fields)).toMatchObject({ ok: false, reason: expect.stringContaining(EVENT_REASONS_FIELD) });
    expect(parseLine('0, , 50, 40.00, 3, 0x0', fields)).toMatchObject({ ok: false, reason: expect.stringContaining('uuid') });
  });

  it('refuses numbers that overflow to Infinity or fall outside what the column can read, naming the column and the range', () => {
    const huge = '9'.repeat(400);
    const cases: Array<[string, RegExp]> = [
      [`0, GPU-a, ${huge}, 40.00, 3, 0x0`, /^temperature\.gpu: expected a finite number in -50\.\.200, got "9{37}\.\.\."$/],
      ['0, GPU-a, 999, 40.00, 3, 0x0', /^temperature\.gpu: expected a finite number in -50\.\.200, got "999"$/],
      [`0, GPU-a, 50, ${huge}.5, 3, 0x0`, /^power\.draw: expected a finite number in 0\.\.5000/],
      ['0, GPU-a, 50, -3.00, 3, 0x0', /^power\.draw: expected a finite number in 0\.\.5000, got "-3\.00"$/],
      ['0, GPU-a, 50, 40.00, 250, 0x0', /^utilization\.gpu: expected a finite number in 0\.\.100, got "250"$/],
      [`${huge}, GPU-a, 50, 40.00, 3, 0x0`, /^index: expected a GPU index 0\.\.1023/],
      [`0, GPU-${'a'.repeat(200)}, 50, 40.00, 3, 0x0`, /^uuid: expected a GPU UUID of at most 100 characters/],
    ];
    for (const [line, re] of cases) {
      const r = parseLine(line.replace(/0x0$/, '0x0000000000000000'), fields);
      expect(r.ok, line.slice(0, 60)).toBe(false);
      expect(!r.ok && r.reason, line.slice(0, 60)).toMatch(re);
    }
  });

  it('recognises the unknown-field message of older drivers', () => {
    expect(rejectedField('Field "clocks_event_reasons.active" is not a valid field to query.\n\n')).toBe(EVENT_REASONS_FIELD);
    expect(rejectedField('0, GPU-a, 50')).toBeNull();
  });

  it('names every known throttle bit', () => {
    expect(throttleNames(0x1ff)).toHaveLength(9);
    expect(throttleNames(0x40)).toEqual(['hw_thermal_slowdown']);
  });
});
