import { Type, type Static } from '@sinclair/typebox';
import { CoolerConfig } from '../cooler/config.ts';
import { ThermalConfig } from '../thermal/config.ts';
import { SynthesisConfig } from '../synthesis/config.ts';
import { RenderConfig } from '../render/config.ts';

/** Who may use a class of routes: anyone who reaches the daemon, or only holders of the token (or its session cookie). */
const Access = (def: 'open' | 'token', what: string) =>
  Type.Union([Type.Literal('open'), Type.Literal('token')], { default: def, description: `${what}: open to anyone who can reach the daemon (and passes the Host check), or token only` });

export const TOKEN_MIN_LENGTH = 32;

export const AuthConfig = Type.Object(
  {
    // Never printed: not in logs, metrics, error messages nor `gance config check` (it shows <redacted>).
    token: Type.Optional(Type.String({ minLength: TOKEN_MIN_LENGTH, maxLength: 1024, description: `API token (at least ${TOKEN_MIN_LENGTH} characters, e.g. openssl rand -hex 32); prefer tokenFile, which keeps it out of the config` })),
    tokenFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'file holding the API token (surrounding whitespace ignored); must not be readable by every user' })),
    read: Access('open', 'read-only routes (GET/HEAD: status, history, docs)'),
    metrics: Access('open', '/metrics'),
    sessionTtlSeconds: Type.Integer({ minimum: 60, maximum: 7 * 86_400, default: 12 * 3600, description: 'lifetime of the session cookie POST /v1/auth/session sets (pages and WebSockets use it instead of the token)' }),
  },
  { additionalProperties: false, default: {} },
);

// a DNS name or an IP literal (IPv6 without brackets), optionally "*." + a name for its subdomains
const HOST_NAME = '^(\\*\\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?$|^[0-9A-Fa-f:.]+$';

export const ServerConfig = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, default: '127.0.0.1', description: 'address the API listens on' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 9840, description: '0 picks a free port' }),
    // Bounds on what a client can hold: half-sent requests and idle sockets each keep a descriptor
    // that nvidia-smi and the cooler's serial port also need.
    headersTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000, description: 'a request whose headers are not all in by then is answered 408 and closed' }),
    requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000, description: 'a request not fully received by then (headers and body) is answered 408 and closed' }),
    uploadTimeoutMs: Type.Integer({
      minimum: 100,
      maximum: 86_400_000,
      default: 3_600_000,
      description:
        'a multipart/form-data upload (render audio, up to render.uploadMaxBytes) not fully received by then is answered 408 and closed; other requests have requestTimeoutMs. One that stalls is closed after idleTimeoutMs',
    }),
    idleTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 60_000, description: 'a connection with no traffic this long is closed' }),
    keepAliveTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5000, description: 'an idle keep-alive connection between requests is closed after this' }),
    maxConnections: Type.Integer({ minimum: 1, maximum: 10_000, default: 1024, description: 'connections past this are closed as they arrive; never more than half the descriptor limit (ulimit -n)' }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 2 ** 20, default: 2 ** 20, description: 'largest request body (JSON) accepted; larger is 413 before it is read (multipart uploads have their own limit)' }),
    maxHeaderBytes: Type.Integer({ minimum: 1024, maximum: 65_536, default: 16_384, description: 'largest request head (request line and headers); larger is 431' }),
    maxUrlLength: Type.Integer({ minimum: 256, maximum: 65_536, default: 4096, description: 'longest request URL (path and query); longer is 414' }),
    auth: AuthConfig,
    allowedHosts: Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: HOST_NAME }), {
      maxItems: 64,
      default: [],
      description: 'names clients may use in the Host header besides the listen address (and, when it covers loopback, localhost): e.g. gance.local; a request naming any other host is refused (421), which stops DNS rebinding',
    }),
    corsOrigins: Type.Array(Type.String({ minLength: 1, maxLength: 512, pattern: '^https?://[^/\\s]+$' }), {
      maxItems: 32,
      default: [],
      description: 'web origins (e.g. http://grafana.local:3000) whose pages may call the API with the token; none by default, so no cross-site page can',
    }),
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
