/** The thermal rules a schema cannot say: one function that config load, the API and the state-file reload share. */
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { ThermalConfig, ZoneConfig } from '../../src/thermal/config.ts';
import { ambientThermistorIssues, thermalIssues, zoneIssues, zoneThermistorIssues } from '../../src/thermal/rules.ts';

const zone = (patch: Record<string, unknown> = {}): ZoneConfig => {
  const base = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: ['a'] }) as ZoneConfig;
  return { ...base, ...patch, pid: { ...base.pid, ...(patch.pid as object) } } as ZoneConfig;
};
const thermal = (sensors: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): ThermalConfig =>
  Value.Default(ThermalConfig, { zones: [zone()], sensors, ...extra }) as ThermalConfig;

describe('zone rules', () => {
  it('accepts the defaults', () => {
    expect(zoneIssues(zone())).toEqual([]);
  });

  it('names each field that breaks a rule and what was expected', () => {
    expect(zoneIssues(zone({ minDuty: 0.8, maxDuty: 0.5, stopBelowDuty: 0.9 }))).toEqual(['minDuty: must be <= maxDuty (0.5)', 'stopBelowDuty: must be <= minDuty (0.8)']);
    expect(zoneIssues(zone({ curve: [[40, 0], [40, 0.5], [30, 1]] }))).toEqual(['curve[1]: temperatures must increase (40 after 40)', 'curve[2]: temperatures must increase (30 after 40)']);
    expect(zoneIssues(zone({ curve: [[40, 0]] }))).toEqual(['curve: must have at least 2 points, got 1']);
  });

  it('refuses a curve whose duty falls as the temperature rises: the fans would slow down as the GPU heats', () => {
    expect(zoneIssues(zone({ curve: [[40, 1], [90, 0]] }))).toEqual(['curve[1]: duties must not fall as the temperature rises (0 at 90 C after 1 at 40 C)']);
    expect(zoneIssues(zone({ curve: [[40, 0.2], [60, 0.6], [70, 0.5], [90, 1]] }))).toEqual(['curve[2]: duties must not fall as the temperature rises (0.5 at 70 C after 0.6 at 60 C)']);
    // flat stretches are fine
    expect(zoneIssues(zone({ curve: [[40, 0.3], [60, 0.3], [90, 1]] }))).toEqual([]);
  });

  it('keeps the setpoint out of the critical alarm\'s clearing band (at most criticalCelsius - 3)', () => {
    expect(zoneIssues(zone({ criticalCelsius: 90, pid: { setpoint: 87 } }))).toEqual([]);
    expect(zoneIssues(zone({ criticalCelsius: 90, pid: { setpoint: 88 } }))).toEqual(['pid.setpoint: must be at most criticalCelsius - 3 (87), got 88']);
    expect(zoneIssues(zone({ criticalCelsius: 90, pid: { setpoint: 95 } }))).toEqual(['pid.setpoint: must be at most criticalCelsius - 3 (87), got 95']);
  });
});

describe('thermal section rules', () => {
  it('wants a stale limit that survives one missed sample (staleAfterMs and silentAfterMs >= 2 x intervalMs)', () => {
    expect(thermalIssues(thermal({ intervalMs: 500, staleAfterMs: 1000 }))).toEqual([]);
    expect(thermalIssues(thermal({ intervalMs: 500, staleAfterMs: 400, silentAfterMs: 600 }))).toEqual([
      'sensors.staleAfterMs: must be >= 2 x sensors.intervalMs (1000), got 400',
      'sensors.silentAfterMs: must be >= 2 x sensors.intervalMs (1000), got 600',
    ]);
  });

  it('orders the restart back-off and the history, refuses duplicate zones, and prefixes zone issues with their index', () => {
    const c = thermal({ restartMinMs: 5000, restartMaxMs: 1000 }, { history: { seconds: 10, intervalMs: 20_000 }, zones: [zone(), zone({ pid: { setpoint: 99 } })] });
    expect(thermalIssues(c)).toEqual([
      'sensors.restartMinMs: must be <= sensors.restartMaxMs (1000), got 5000',
      'history.intervalMs: must be <= history.seconds x 1000 (10000), got 20000',
      'zones[1].id: duplicate zone id "z"',
      'zones[1].pid.setpoint: must be at most criticalCelsius - 3 (87), got 99',
    ]);
  });
});

describe('history size (config load)', () => {
  it('bounds what the history holds: a day at 50 ms was accepted and grew to about 2 GB of samples (and GET /history answered them all)', () => {
    const rig = [zone({ id: 'z0', gpus: [0], fans: ['a', 'b', 'c'] }), zone({ id: 'z1', gpus: [1], fans: ['d', 'e', 'f'] })];
    // the default rig kept a day at 1 s: 86,400 samples of 10 values
    expect(thermalIssues(thermal({}, { zones: rig, history: { seconds: 86_400, intervalMs: 1000 } }))).toEqual([]);
    expect(thermalIssues(thermal({}, { zones: rig, periodMs: 50, history: { seconds: 86_400, intervalMs: 50 } }))).toEqual([
      'history.intervalMs: 86400 s at one sample per 50 ms holds 1728000 samples of 10 values (2 zones, 2 GPUs, 6 fans): at most 864000 values (about 100 MB); raise history.intervalMs to at least 1000 or lower history.seconds to at most 4320',
    ]);
    // a sample is taken per control tick at most: a slower loop keeps fewer
    expect(thermalIssues(thermal({}, { zones: rig, periodMs: 1000, history: { seconds: 86_400, intervalMs: 50 } }))).toEqual([]);
  });
});

describe('ambient thermistor rules (issue 14)', () => {
  it('a zone\'s ambientThermistor must be a configured cooler thermistor; the reference ambient must be below the reference setpoint', () => {
    const zone = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: ['a'], feedForward: { ambientThermistor: 'intake' } }) as ZoneConfig;
    const thermal = Value.Default(ThermalConfig, { zones: [zone] }) as ThermalConfig;
    expect(ambientThermistorIssues(thermal, ['intake', 'sink0'])).toEqual([]);
    expect(ambientThermistorIssues(thermal, ['sink0'])).toEqual(['zones[0].feedForward.ambientThermistor: unknown thermistor "intake" (cooler.thermistors has: sink0)']);
    const bad = { ...zone, feedForward: { ...zone.feedForward, referenceAmbientCelsius: 80 } };
    expect(zoneIssues(bad)).toEqual(['feedForward.referenceAmbientCelsius: must be below feedForward.referenceSetpointCelsius (78), got 80']);
  });

  it('a mode naming an unknown ambientThermistor is refused like a zone naming one (as a tuning through the API is)', () => {
    const zone = Value.Default(ZoneConfig, { id: 'z', gpus: [0], fans: ['a'] }) as ZoneConfig;
    const modes = [{ name: 'venue', all: { feedForward: { ambientThermistor: 'inlet' } }, zones: { z: { feedForward: { ambientThermistor: 'intake' } } } }];
    const thermal = Value.Default(ThermalConfig, { zones: [zone], modes }) as ThermalConfig;
    expect(ambientThermistorIssues(thermal, ['intake', 'inlet'])).toEqual([]);
    expect(ambientThermistorIssues(thermal, ['sink0'])).toEqual([
      'modes[0].all.feedForward.ambientThermistor: unknown thermistor "inlet" (cooler.thermistors has: sink0)',
      'modes[0].zones.z.feedForward.ambientThermistor: unknown thermistor "intake" (cooler.thermistors has: sink0)',
    ]);
    expect(zoneThermistorIssues({ ...zone, feedForward: { ...zone.feedForward, ambientThermistor: 'inlet' } }, [])).toEqual(['feedForward.ambientThermistor: unknown thermistor "inlet" (cooler.thermistors has: none)']);
  });
});
