import { Type, type Static } from '@sinclair/typebox';

const Celsius = (opts: object = {}) => Type.Number({ minimum: -40, maximum: 150, ...opts });
const Ratio = (opts: object = {}) => Type.Number({ minimum: 0, maximum: 1, ...opts });

export const PidConfig = Type.Object(
  {
    setpoint: Celsius({ default: 75, description: 'target temperature, C' }),
    kp: Type.Number({ minimum: 0, default: 0.05, description: 'duty per C of error' }),
    ki: Type.Number({ minimum: 0, default: 0.002, description: 'duty per C*s of integrated error' }),
    kd: Type.Number({ minimum: 0, default: 0.0, description: 'duty per C/s (derivative on measurement)' }),
    derivativeFilterSeconds: Type.Number({ minimum: 0, default: 2, description: 'time constant of the derivative low-pass' }),
  },
  { additionalProperties: false },
);

export const CurvePoint = Type.Tuple([Celsius(), Ratio()], { description: '[temperature C, duty 0..1]' });

export const ZoneConfig = Type.Object(
  {
    id: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$' }),
    gpus: Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1, description: 'GPU indices whose temperatures feed this zone' }),
    aggregate: Type.Union([Type.Literal('max'), Type.Literal('mean')], { default: 'max' }),
    fans: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'fan ids (cooler.fans[].id) this zone drives' }),
    mode: Type.Union([Type.Literal('pid'), Type.Literal('curve'), Type.Literal('fixed')], { default: 'pid' }),
    pid: Type.Optional(PidConfig),
    curve: Type.Array(CurvePoint, { minItems: 2, default: [[40, 0.2], [70, 0.4], [90, 1]] }),
    hysteresis: Type.Number({ minimum: 0, maximum: 20, default: 2, description: 'curve: degrees to fall before duty follows down' }),
    fixedDuty: Ratio({ default: 0.5 }),
    minDuty: Ratio({ default: 0.2 }),
    maxDuty: Ratio({ default: 1 }),
    slewUpPerSecond: Type.Number({ exclusiveMinimum: 0, default: 0.5, description: 'max duty rise per second' }),
    slewDownPerSecond: Type.Number({ exclusiveMinimum: 0, default: 0.02, description: 'max duty fall per second (quiet)' }),
    criticalCelsius: Celsius({ default: 90, description: 'at or above this, fans go to full and an alarm is raised' }),
    feedForward: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        dutyPerWatt: Type.Number({ minimum: 0, default: 0.002 }),
        filterSeconds: Type.Number({ minimum: 0, default: 5 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type ZoneConfig = Static<typeof ZoneConfig>;

export const SensorsConfig = Type.Object(
  {
    source: Type.Union([Type.Literal('nvidia-smi'), Type.Literal('simulated')], { default: 'simulated' }),
    nvidiaSmiPath: Type.String({ default: 'nvidia-smi' }),
    intervalMs: Type.Integer({ minimum: 100, maximum: 10_000, default: 500 }),
    staleAfterMs: Type.Integer({ minimum: 200, maximum: 60_000, default: 3000, description: 'a sample older than this is a fault (fans to full)' }),
  },
  { additionalProperties: false },
);

export const ThermalConfig = Type.Object(
  {
    periodMs: Type.Integer({ minimum: 50, maximum: 10_000, default: 200, description: 'control loop period' }),
    sensors: Type.Object(SensorsConfig.properties, { additionalProperties: false, default: {} }),
    zones: Type.Array(ZoneConfig, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type ThermalConfig = Static<typeof ThermalConfig>;
