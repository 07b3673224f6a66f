import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config/load.ts';
import { ThermalConfig } from '../../../src/thermal/config.ts';
import { thermalIssues } from '../../../src/thermal/rules.ts';

const thermal = (music: Record<string, unknown>) => Value.Default(ThermalConfig, Value.Clone({ zones: [{ id: 'z', gpus: [0], fans: ['a'] }], music })) as ThermalConfig;

describe('thermal.music config', () => {
  it('is off by default, with the K80 rig as its model (time constant at full airflow 400 / 4.3 s)', () => {
    const m = thermal({}).music;
    expect(m).toMatchObject({ enabled: false, listenerDistanceMeters: 1, audibleBelowMusicDb: 10, warmAboveSetpointCelsius: 1 });
    expect(m.model).toEqual({ heatCapacityJPerK: 400, conductanceStillWPerK: 0.8, conductanceFullWPerK: 4.3, airflowExponent: 0.6 });
    expect(thermalIssues(thermal({ enabled: true }))).toEqual([]);
  });

  it('refuses a model whose fans would not cool, and bad values, naming the field', () => {
    expect(thermalIssues(thermal({ model: { conductanceStillWPerK: 5, conductanceFullWPerK: 4 } }))).toEqual(['music.model.conductanceFullWPerK: must be above music.model.conductanceStillWPerK (5), got 4']);
    expect(() => resolveConfig({ thermal: { zones: [{ id: 'z', gpus: [0], fans: ['gpu0-a'] }], music: { listenerDistanceMeters: 0 } } })).toThrow(/thermal\/music\/listenerDistanceMeters|thermal\.music\.listenerDistanceMeters/);
  });
});
