/** How many segments encode at once: the machine's default, the config's value, and what the config refuses. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { encodeParallel } from '../../src/render/encode-args.ts';

const base = `cooler:\n  driver: simulated\n  fans: [{ id: a, channel: 0 }]\nthermal:\n  zones:\n    - { id: z0, gpus: [0], fans: [a], pid: { setpoint: 70 } }\n`;

function issuesOf(text: string): string[] {
  try {
    parseConfigText(text, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('config was accepted');
}

describe('render.encodeParallel', () => {
  it('null: one segment per 4 cores (x264 threads), at least 1, at most 8', () => {
    expect([1, 2, 4, 7, 8, 16, 32, 64, 128].map((cores) => encodeParallel(null, cores))).toEqual([1, 1, 1, 1, 2, 4, 8, 8, 8]);
    expect(encodeParallel(undefined, 16)).toBe(4);
  });

  it('a configured number is taken as it is', () => {
    expect(encodeParallel(3, 2)).toBe(3);
    expect(parseConfigText(`${base}render: { encodeParallel: 6 }\n`, 'ok.yaml').render.encodeParallel).toBe(6);
    expect(parseConfigText(base, 'ok.yaml').render.encodeParallel).toBeNull();
  });

  it('refuses 0, fractions and more than 32, naming the field', () => {
    for (const v of ['0', '2.5', '33', '"four"']) {
      const issues = issuesOf(`${base}render: { encodeParallel: ${v} }\n`);
      expect(issues.length, v).toBeGreaterThan(0);
      for (const i of issues) expect(i).toMatch(/^render\.encodeParallel: /);
    }
  });
});
