import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, pointerToPath } from '../../src/config/errors.ts';
import { DEFAULT_CONFIG_PATH, loadConfigFile, parseConfigText } from '../../src/config/load.ts';
import { CLI, REPO, writeTempConfig } from '../helpers/daemon-process.ts';
import { H5PY_PROJECTION } from '../audio/features/gance-reference.ts';

const base = `cooler:\n  driver: simulated\n  fans: [{ id: a, channel: 0 }, { id: b, channel: 1 }]\nthermal:\n  zones:\n    - { id: z0, gpus: [0], fans: [a], pid: { setpoint: 70 } }\n    - { id: z1, gpus: [1], fans: [b], pid: { setpoint: 70 } }\n`;

function issuesOf(text: string): string[] {
  try {
    parseConfigText(text, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('config was accepted');
}

describe('config loading', () => {
  it('loads the embedded default with defaults filled in', () => {
    const c = loadConfigFile(DEFAULT_CONFIG_PATH);
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 9840, maxConnections: 1024 });
    expect(c.cooler.driver).toBe('simulated');
    expect(c.cooler.fans[0]?.minDuty).toBe(0.2);
    expect(c.thermal.zones.length).toBeGreaterThan(0);
  });

  it('accepts a minimal valid config', () => {
    const c = parseConfigText(base, 'ok.yaml');
    expect(c.thermal.zones[1]?.pid?.kp).toBeGreaterThanOrEqual(0);
    expect(c.stateDir).toBe('./state');
  });

  it('refuses an unknown key, naming its path', () => {
    expect(issuesOf(base + 'server: { port: 1, colour: red }\n')).toEqual(['server.colour: unknown key']);
  });

  it('refuses a wrong type, naming path and expectation', () => {
    expect(issuesOf(base + 'server: { port: "ninety" }\n')).toEqual(['server.port: must be an integer, got "ninety"']);
  });

  it('refuses an out-of-range value inside a list', () => {
    const text = base.replace('- { id: z1, gpus: [1], fans: [b], pid: { setpoint: 70 } }', '- { id: z1, gpus: [1], fans: [b], pid: { setpoint: 70, kp: -0.5 } }');
    expect(issuesOf(text)).toEqual(['thermal.zones[1].pid.kp: must be >= 0']);
  });

  it('refuses a non-finite number (YAML .inf, .nan, 1e309), naming the field and saying it must be finite', () => {
    const at = (v: string) => base.replace('pid: { setpoint: 70 } }\n    - { id: z1', `pid: { setpoint: ${v} } }\n    - { id: z1`);
    for (const v of ['.inf', '-.inf', '.nan', '1e309']) {
      expect(issuesOf(at(v)), v).toEqual([`thermal.zones[0].pid.setpoint: must be a finite number, got ${v === '.nan' ? 'NaN' : v.includes('-') ? '-Infinity' : 'Infinity'}`]);
    }
  });

  it('bounds every list and string, naming the field and the limit', () => {
    const curve = `[${Array.from({ length: 33 }, (_, k) => `[${30 + k}, ${k / 32}]`).join(', ')}]`;
    const text = base
      .replace('pid: { setpoint: 70 } }\n    - { id: z1', `pid: { setpoint: 70 }, curve: ${curve} }\n    - { id: z1`)
      .replace('- { id: z1, gpus: [1]', `- { id: ${'z'.repeat(65)}, gpus: [1, 1]`);
    const workers = Array.from({ length: 65 }, (_, k) => `{ id: w${k} }`).join(', ');
    expect(issuesOf(`${text}stateDir: ${'d'.repeat(4097)}\nsynthesis: { workers: [${workers}] }\n`)).toEqual(
      expect.arrayContaining([
        'stateDir: must be at most 4096 characters',
        'thermal.zones[0].curve: must have at most 32 item(s)',
        'thermal.zones[1].id: must be at most 64 characters',
        'thermal.zones[1].gpus: must not list an item twice',
        'synthesis.workers: must have at most 64 item(s)',
      ]),
    );
  });

  it('applies the same zone rules as the API (one function): setpoint within 3 C of critical, stopBelowDuty over minDuty, a stale limit under 2 samples', () => {
    const text = base
      .replace('pid: { setpoint: 70 } }\n    - { id: z1', 'pid: { setpoint: 90 }, criticalCelsius: 90, stopBelowDuty: 0.3, minDuty: 0.2 }\n    - { id: z1')
      .replace('thermal:\n', 'thermal:\n  sensors: { intervalMs: 1000, staleAfterMs: 500 }\n');
    expect(issuesOf(text)).toEqual([
      'thermal.sensors.staleAfterMs: must be >= 2 x sensors.intervalMs (2000), got 500',
      'thermal.zones[0].stopBelowDuty: must be <= minDuty (0.2)',
      'thermal.zones[0].pid.setpoint: must be at most criticalCelsius - 3 (87), got 90',
    ]);
    expect(issuesOf(base.replace('pid: { setpoint: 70 } }\n    - { id: z1', 'pid: { setpoint: 70 }, criticalCelsius: 150 }\n    - { id: z1'))).toEqual(['thermal.zones[0].criticalCelsius: must be <= 105']);
  });

  it('reports every error at once, one line each', () => {
    const text = `server: { port: 70000, nope: 1 }\ncooler: { driver: usb, fans: [] }\nthermal: { zones: [] }\n`;
    const issues = issuesOf(text);
    expect(issues).toEqual(
      expect.arrayContaining([
        'server.port: must be <= 65535',
        'server.nope: unknown key',
        expect.stringMatching(/^cooler\.driver: must be one of "simulated", "serial", "firmata", got "usb"$/),
        'cooler.fans: must have at least 1 item(s)',
        'thermal.zones: must have at least 1 item(s)',
      ]),
    );
  });

  it('says a missing section or field is required once, not again as "must be a mapping/list, got nothing"', () => {
    expect(issuesOf('server: { port: 1 }\n')).toEqual(['cooler: is required', 'thermal: is required']);
    expect(issuesOf('cooler: { driver: simulated, fans: [{ id: a, channel: 0 }] }\nthermal:\n  zones:\n    - { id: z0, pid: { kp: -1 } }\n')).toEqual([
      'thermal.zones[0].gpus: is required',
      'thermal.zones[0].fans: is required',
      'thermal.zones[0].pid.kp: must be >= 0',
    ]);
  });

  it('checks references between sections', () => {
    const text = base.replace('fans: [b]', 'fans: [c]').replace('driver: simulated', 'driver: serial').replace('thermal:\n', 'thermal:\n  sensors: { source: nvidia-smi }\n');
    expect(issuesOf(text)).toEqual(['cooler.path: is required when cooler.driver is "serial"', 'thermal.zones[1].fans[0]: unknown fan "c" (cooler.fans has: a, b)']);
  });

  it('refuses the simulated sensors (the default) with a real cooler, naming both fields and what to set: the check passed it and the daemon then refused to start', () => {
    const real = (driver: string, sensors = '') => base.replace('driver: simulated\n', `driver: ${driver}\n  path: /dev/gance-cooler\n`).replace('thermal:\n', `thermal:\n${sensors}`);
    for (const driver of ['serial', 'firmata']) {
      const want = `thermal.sensors.source: "simulated" (the default) needs cooler.driver "simulated", got cooler.driver "${driver}": set thermal.sensors.source: nvidia-smi to read the real GPUs, or cooler.driver: simulated to run without hardware`;
      expect(issuesOf(real(driver)), driver).toEqual([want]);
      expect(issuesOf(real(driver, '  sensors: { source: simulated }\n')), `${driver}, said outright`).toEqual([want]);
      expect(parseConfigText(real(driver, '  sensors: { source: nvidia-smi }\n'), 'rig.yaml').thermal.sensors.source).toBe('nvidia-smi');
    }
    // the simulated rig, and real GPUs with simulated fans (a dry run on the rig), are both fine
    expect(parseConfigText(base, 'sim.yaml').thermal.sensors.source).toBe('simulated');
    expect(parseConfigText(base.replace('thermal:\n', 'thermal:\n  sensors: { source: nvidia-smi }\n'), 'dry.yaml').cooler.driver).toBe('simulated');
  });

  it('refuses a zone id that every JavaScript object already has as a key (constructor, __proto__, toString): the API and /metrics answered 500', () => {
    for (const id of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(issuesOf(base.replace('id: z1', `id: ${id}`)), id).toEqual([`thermal.zones[1].id: "${id}" is a name every JavaScript object has; choose another`]);
    }
  });

  it('refuses a mode whose zone settings hold an empty section, naming it (the API refuses the same patch)', () => {
    const text = base.replace('thermal:\n', 'thermal:\n  modes:\n    - { name: quiet, all: { feedForward: {} }, zones: { z0: { pid: {} } } }\n');
    expect(issuesOf(text)).toEqual([
      'thermal.modes[0].all.feedForward: must set at least 1 key(s); an empty mapping changes nothing',
      'thermal.modes[0].zones.z0.pid: must set at least 1 key(s); an empty mapping changes nothing',
    ]);
  });

  it('bounds each rate and time the failsafe rests on, naming the field: fans that cannot reach full in time, a zone blind for a minute, a device watchdog that waits a minute', () => {
    const text = base
      .replace('pid: { setpoint: 70 } }\n    - { id: z1', 'pid: { setpoint: 70 }, slewUpPerSecond: 1e-300 }\n    - { id: z1')
      .replace('thermal:\n', 'thermal:\n  sensors: { intervalMs: 8000, staleAfterMs: 60000 }\n  modes:\n    - { name: quiet, all: { slewUpPerSecond: 0.001 } }\n')
      .replace('driver: simulated\n', 'driver: simulated\n  watchdogSeconds: 60\n');
    expect(issuesOf(text)).toEqual([
      'cooler.watchdogSeconds: must be <= 10',
      'thermal.sensors.intervalMs: must be <= 5000',
      'thermal.sensors.staleAfterMs: must be <= 10000',
      'thermal.zones[0].slewUpPerSecond: must be >= 0.02',
      'thermal.modes[0].all.slewUpPerSecond: must be >= 0.02',
    ]);
    // the bounds themselves are taken
    const edge = base
      .replace('pid: { setpoint: 70 } }\n    - { id: z1', 'pid: { setpoint: 70 }, slewUpPerSecond: 0.02 }\n    - { id: z1')
      .replace('thermal:\n', 'thermal:\n  sensors: { intervalMs: 5000, staleAfterMs: 10000 }\n')
      .replace('driver: simulated\n', 'driver: simulated\n  watchdogSeconds: 10\n');
    expect(parseConfigText(edge, 'edge.yaml').thermal.zones[0]!.slewUpPerSecond).toBe(0.02);
  });

  it('bounds the fan figures the allocation splits the duty by, naming the field: maxRpm 1e308 split a zone duty of 0.5 into 0.2, 0.2 and 0 (a third of the airflow asked for)', () => {
    const fans = (a: string, b: string) => base.replace('fans: [{ id: a, channel: 0 }, { id: b, channel: 1 }]', `fans: [{ id: a, channel: 0, ${a} }, { id: b, channel: 1, ${b} }]`);
    expect(issuesOf(fans('maxRpm: 1e308', 'maxDba: 1e308'))).toEqual(['cooler.fans[0].maxRpm: must be <= 100000', 'cooler.fans[1].maxDba: must be <= 150']);
    expect(issuesOf(base.replace('{ id: b, channel: 1 }', `{ id: ${'b'.repeat(65)}, channel: 1 }`))).toEqual(expect.arrayContaining(['cooler.fans[1].id: must be at most 64 characters']));
    // the bounds themselves are taken
    expect(parseConfigText(fans('maxRpm: 100000', 'maxDba: 150'), 'edge.yaml').cooler.fans.map((f) => [f.maxRpm, f.maxDba])).toEqual([[100000, 40], [9000, 150]]);
  });

  it('wants the control loop to speak to the cooler well within its watchdog: periodMs 10000 with watchdogSeconds 3 left the device in its own failsafe between ticks while the API showed duty 0', () => {
    const at = (period: number, watchdog: number, driver = 'simulated') =>
      base
        .replace('thermal:\n', `thermal:\n  periodMs: ${period}\n  sensors: { source: ${driver === 'simulated' ? 'simulated' : 'nvidia-smi'} }\n`)
        .replace('driver: simulated\n', `driver: ${driver}\n  path: /dev/null\n  watchdogSeconds: ${watchdog}\n`);
    expect(issuesOf(at(10_000, 3))).toEqual(['thermal.periodMs: must be at most half of cooler.watchdogSeconds (1500 ms): the cooler goes to its own failsafe after 3 s without a command, got 10000']);
    expect(issuesOf(at(1600, 3, 'serial'))).toEqual(['thermal.periodMs: must be at most half of cooler.watchdogSeconds (1500 ms): the cooler goes to its own failsafe after 3 s without a command, got 1600']);
    expect(parseConfigText(at(1500, 3), 'edge.yaml').thermal.periodMs).toBe(1500);
    // StandardFirmata has no watchdog of its own
    expect(parseConfigText(at(10_000, 3, 'firmata'), 'firmata.yaml').thermal.periodMs).toBe(10_000);
  });

  it('refuses a thermal.measuredFans.pin entry naming no fan: a typo (gpu0a for a) pinned nothing and the measured figures replaced the ones meant to stay', () => {
    expect(issuesOf(base.replace('thermal:\n', 'thermal:\n  measuredFans: { pin: [a, gpu0a] }\n'))).toEqual(['thermal.measuredFans.pin[1]: unknown fan "gpu0a" (cooler.fans has: a, b)']);
    expect(parseConfigText(base.replace('thermal:\n', 'thermal:\n  measuredFans: { pin: [a, b] }\n'), 'ok.yaml').thermal.measuredFans.pin).toEqual(['a', 'b']);
  });

  it('refuses the same names for fan, thermistor and mode ids (they key the duties, rpm, history and modes as zone ids do), naming the field; a thermistor id given twice too', () => {
    for (const id of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const text = base
        .replace('{ id: b, channel: 1 }]', `{ id: b, channel: 1 }, { id: ${id}, channel: 2 }]\n  thermistors: [{ id: ${id}, channel: 0 }, { id: t1, channel: 1 }, { id: t1, channel: 2 }]`)
        .replace('thermal:\n', `thermal:\n  modes:\n    - { name: ${id}, all: { maxDuty: 0.9 } }\n`);
      expect(issuesOf(text), id).toEqual([
        `cooler.fans[2].id: "${id}" is a name every JavaScript object has; choose another`,
        `cooler.thermistors[0].id: "${id}" is a name every JavaScript object has; choose another`,
        'cooler.thermistors[2].id: duplicate thermistor id "t1"',
        `thermal.modes[0].name: "${id}" is a name every JavaScript object has; choose another`,
      ]);
    }
  });

  it('checks the synthesis workers at load time (so config check reports them too)', () => {
    const text = `${base}synthesis:\n  workers:\n    - { id: g0, gpu: 0, providers: [cuda] }\n    - { id: g1, gpu: 0, providers: [webgpu], isolation: thread }\n`;
    expect(issuesOf(text)).toEqual([
      'synthesis.workers[1].gpu: GPU 0 is already driven by worker "g0" (one worker per GPU)',
      'synthesis.workers[1].isolation: webgpu needs a process per GPU (its context is process-wide); use "process" or "auto"',
    ]);
  });

  it('mounts the latents section at synthesis.latents with GANce\'s defaults', () => {
    expect(loadConfigFile().synthesis.latents).toMatchObject({ mode: 'noise-blend', fps: 60, vectorLength: 512, numWs: 18, alpha: 0.25, projectionFile: null, noise: { seed: 1234 } });
    expect(parseConfigText(`${base}synthesis:\n  latents: { fps: 30, reactive: { pulse: 0.5 } }\n`, 'ok.yaml').synthesis.latents).toMatchObject({ fps: 30, alpha: 0.25, reactive: { pulse: 0.5, motion: 0 } });
  });

  it('refuses bad latents values, naming the field', () => {
    const latents = (yaml: string) => issuesOf(`${base}synthesis:\n  latents: ${yaml}\n`);
    expect(latents('{ fps: 0 }')).toEqual(['synthesis.latents.fps: must be > 0']);
    expect(latents('{ mode: z }')).toEqual(['synthesis.latents.mode: must be one of "noise-blend", "projection-file-blend", got "z"']);
    expect(latents('{ projectionNetworkMd5: abc }')).toEqual(['synthesis.latents.projectionNetworkMd5: must be null, or must match ^[0-9a-fA-F]{32}$, got "abc"']);
    expect(latents('{ projectionFile: "" }')).toEqual(['synthesis.latents.projectionFile: must be null, or must not be empty']);
    expect(latents('{ alpah: 0.3, noise: { sigma: -1 } }')).toEqual(expect.arrayContaining(['synthesis.latents.alpah: unknown key', 'synthesis.latents.noise.sigma: must be >= 0']));
    // [min, max] pairs the other way round would invert the mapping
    expect(latents('{ fftAmplitudeRange: [5, -5], noise: { range: [4, -4] } }')).toEqual([
      'synthesis.latents.fftAmplitudeRange: must be [min, max] with min <= max, got [5, -5] (the other way round inverts the mapping)',
      'synthesis.latents.noise.range: must be [min, max] with min <= max, got [4, -4] (the other way round inverts the mapping)',
    ]);
    expect(parseConfigText(`${base}synthesis:\n  latents: { fftAmplitudeRange: [-5, 5], noise: { range: [0, 0] } }\n`, 'ok.yaml').synthesis.latents.fftAmplitudeRange).toEqual([-5, 5]);
    // ends float32 scaling overflows (NaN latents, black frames) are refused as the API refuses them
    expect(latents('{ noise: { range: [-1e308, 1e308] } }')).toEqual(['synthesis.latents.noise.range[0]: must be >= -1000', 'synthesis.latents.noise.range[1]: must be <= 1000']);
  });

  it('cross-checks the latents: a projection blend needs a readable projection file, w rows and a blend depth within them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gance-config-'));
    const latents = (yaml: string) => issuesOf(`${base}synthesis:\n  latents: ${yaml}\n`);
    expect(latents('{ mode: projection-file-blend }')).toEqual(['synthesis.latents.projectionFile: is required when mode is "projection-file-blend"']);
    const missing = join(dir, 'missing.h5');
    expect(latents(`{ mode: projection-file-blend, projectionFile: "${missing}" }`)).toEqual([`synthesis.latents.projectionFile: cannot read "${missing}": file not found`]);
    expect(latents(`{ mode: projection-file-blend, projectionFile: "${dir}" }`)).toEqual([`synthesis.latents.projectionFile: cannot read "${dir}": is a directory`]);
    expect(latents(`{ mode: projection-file-blend, projectionFile: "${H5PY_PROJECTION}", vectorLength: 256, blendDepth: 19 }`)).toEqual([
      'synthesis.latents.blendDepth: must be <= numWs (18)',
      'synthesis.latents.vectorLength: must be 512 (the w width) when mode is "projection-file-blend"',
    ]);
    // a readable file passes; so does a missing one while the mode does not use it
    expect(parseConfigText(`${base}synthesis:\n  latents: { mode: projection-file-blend, projectionFile: "${H5PY_PROJECTION}" }\n`, 'ok.yaml').synthesis.latents.projectionFile).toBe(H5PY_PROJECTION);
    expect(parseConfigText(`${base}synthesis:\n  latents: { projectionFile: "${missing}" }\n`, 'ok.yaml').synthesis.latents.mode).toBe('noise-blend');
  });

  it('refuses invalid YAML with its position', () => {
    const issues = issuesOf('server: { port: 1\ncooler: [\n');
    expect(issues.length).toBeGreaterThan(0);
    for (const i of issues) expect(i).toMatch(/^line \d+, column \d+: invalid YAML: /);
  });

  it('refuses a YAML alias inside the node it names, and an alias bomb, as invalid YAML (not a stack overflow)', () => {
    expect(issuesOf(`${base}server: &s { allowedHosts: [*s] }\n`)).toEqual(['line 8, column 29: invalid YAML: alias *s is inside the node it refers to (a cycle)']);
    const bomb = ['a: &a [x, x]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n');
    const issues = issuesOf(`${base}${bomb}\n`);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^\(yaml\): invalid YAML: .*alias/i);
  });

  it('supports YAML merge keys (<<: *anchor, <<: [*a, *b]), the keys beside them overriding', () => {
    const zones = `cooler:\n  driver: simulated\n  fans: [{ id: a, channel: 0 }, { id: b, channel: 1 }]\nthermal:\n  zones:\n    - &zone { id: z0, gpus: [0], fans: [a], pid: &pid { setpoint: 70, kp: 0.05 } }\n    - <<: *zone\n      id: z1\n      gpus: [1]\n      fans: [b]\n      pid: { <<: [*pid], setpoint: 65 }\n`;
    const c = parseConfigText(zones, 'merge.yaml');
    expect(c.thermal.zones.map((z) => [z.id, z.gpus, z.fans, z.pid?.setpoint, z.pid?.kp])).toEqual([
      ['z0', [0], ['a'], 70, 0.05],
      ['z1', [1], ['b'], 65, 0.05],
    ]);
  });

  it('refuses a merge key whose value is not a mapping, with its position', () => {
    expect(issuesOf(`${base}server:\n  <<: 5\n`)).toEqual(['line 9, column 3: invalid YAML: a merge key (<<) takes a mapping, an alias of one, or a list of those']);
  });

  it('refuses a missing file', () => {
    expect(() => loadConfigFile('/nonexistent/gance.yaml')).toThrow('/nonexistent/gance.yaml: cannot read config: file not found');
  });

  it('names JSON pointer paths the way users write them', () => {
    expect(pointerToPath('/thermal/zones/1/pid/kp')).toBe('thermal.zones[1].pid.kp');
    expect(pointerToPath('')).toBe('(root)');
  });
});

describe('gance config check', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, encoding: 'utf8' });

  it('prints the resolved config and exits 0 for a valid file', () => {
    const r = run('config', 'check', writeTempConfig(base));
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('port: 9840');
    expect(r.stdout).toContain('minDuty: 0.2');
  });

  it('exits non-zero and prints the path of every error', () => {
    const bad = writeTempConfig(`server: { port: -1 }\ncooler: { driver: simulated, fans: [{ id: a, channel: 0, minDuty: 2 }] }\nthermal: { zones: [{ id: z, gpus: [0], fans: [a], pid: { kp: -1 } }] }\nextra: 1\n`);
    const r = run('config', 'check', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('server.port: must be >= 0');
    expect(r.stderr).toContain('cooler.fans[0].minDuty: must be <= 1');
    expect(r.stderr).toContain('thermal.zones[0].pid.kp: must be >= 0');
    expect(r.stderr).toContain('extra: unknown key');
    expect(r.stdout).toBe('');
  });

  it('refuses what the daemon refuses at start: a serial cooler with the default (simulated) sensors', () => {
    const r = run('config', 'check', writeTempConfig(base.replace('driver: simulated\n', 'driver: serial\n  path: /dev/gance-cooler\n')));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('thermal.sensors.source: "simulated" (the default) needs cooler.driver "simulated", got cooler.driver "serial"');
    expect(r.stdout).toBe('');
  });

  it('checks the latents section too', () => {
    const ok = run('config', 'check', writeTempConfig(`${base}synthesis:\n  latents: { fps: 30 }\n`));
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^ {2}latents:\n {4}fps: 30\n {4}mode: noise-blend\n/m);
    const bad = run('config', 'check', writeTempConfig(`${base}synthesis:\n  latents: { fps: -1, mode: projection-file-blend }\n`));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('synthesis.latents.fps: must be > 0');
    const unreadable = run('config', 'check', writeTempConfig(`${base}synthesis:\n  latents: { mode: projection-file-blend, projectionFile: /nonexistent/face.h5 }\n`));
    expect(unreadable.status).toBe(2);
    expect(unreadable.stderr).toContain('synthesis.latents.projectionFile: cannot read "/nonexistent/face.h5": file not found');
  });

  it('exits non-zero with one line for a missing file and for an unknown flag', () => {
    const missing = run('config', 'check', '/nonexistent.yaml');
    expect(missing.status).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const flag = run('daemon', '--frobnicate');
    expect(flag.status).not.toBe(0);
    expect(flag.stderr).toContain("unknown option '--frobnicate'");
  });

  it('prints the version', () => {
    const r = run('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
