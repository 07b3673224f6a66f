import { Type, type Static } from '@sinclair/typebox';
import { CoolerConfig } from '../cooler/config.ts';
import { ThermalConfig } from '../thermal/config.ts';
import { SynthesisConfig } from '../synthesis/config.ts';
import { RenderConfig } from '../render/config.ts';

export const ServerConfig = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, default: '127.0.0.1', description: 'address the API listens on' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 9840, description: '0 picks a free port' }),
    // Bounds on what a client can hold: half-sent requests and idle sockets each keep a descriptor
    // that nvidia-smi and the cooler's serial port also need.
    headersTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000, description: 'a request whose headers are not all in by then is answered 408 and closed' }),
    requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000, description: 'a request not fully received by then (headers and body) is answered 408 and closed' }),
    idleTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 60_000, description: 'a connection with no traffic this long is closed' }),
    keepAliveTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000, description: 'an idle keep-alive connection between requests is closed after this' }),
    maxConnections: Type.Integer({ minimum: 1, maximum: 10_000, default: 1024, description: 'connections past this are closed as they arrive; never more than half the descriptor limit (ulimit -n)' }),
    metricsCacheMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000, description: 'scrapes within this of the last /metrics answer get the same exposition; concurrent scrapes always share one' }),
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
    stateDir: Type.String({ minLength: 1, maxLength: 4096, default: './state', description: 'where run-time tuning and job state persist' }),
    cooler: CoolerConfig,
    thermal: ThermalConfig,
    synthesis: SynthesisConfig,
    render: RenderConfig,
  },
  { additionalProperties: false },
);
export type Config = Static<typeof Config>;
