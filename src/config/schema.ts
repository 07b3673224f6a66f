import { Type, type Static } from '@sinclair/typebox';
import { CoolerConfig } from '../cooler/config.ts';
import { ThermalConfig } from '../thermal/config.ts';
import { SynthesisConfig } from '../synthesis/config.ts';
import { RenderConfig } from '../render/config.ts';

export const ServerConfig = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'address the API listens on' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 9840, description: '0 picks a free port' }),
  },
  { additionalProperties: false, default: {} },
);

export const LogConfig = Type.Object(
  {
    level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info' },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const LifecycleConfig = Type.Object(
  {
    stopTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 4000, description: 'bound on a clean stop before exiting anyway' }),
  },
  { additionalProperties: false, default: {} },
);

export const Config = Type.Object(
  {
    server: ServerConfig,
    log: LogConfig,
    lifecycle: LifecycleConfig,
    stateDir: Type.String({ minLength: 1, default: './state', description: 'where run-time tuning and job state persist' }),
    cooler: CoolerConfig,
    thermal: ThermalConfig,
    synthesis: SynthesisConfig,
    render: RenderConfig,
  },
  { additionalProperties: false },
);
export type Config = Static<typeof Config>;
