import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Registry } from 'prom-client';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { BadRequestError, errorHandler, schemaErrorFormatter, UriTooLongError } from './errors.ts';
import { findTooDeep, finiteNumbers, MAX_DEPTH } from './finite.ts';
import { performance } from 'node:perf_hooks';
import { ServerConfig } from '../config/schema.ts';
import { installAccess, type AccessOptions } from './access.ts';
import { discriminatedUnions } from './union.ts';
import { serializableResponses } from './response-schema.ts';
import { buildSerializer } from './serializer.ts';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

export interface ApiPlugin {
  /** mounted under this prefix, e.g. `/v1/thermal` */
  prefix: string;
  plugin: FastifyPluginAsync;
}

export interface AppOptions {
  registry: Registry;
  /** names of subsystems not ready yet; empty means ready */
  notReady: () => string[];
  plugins?: ApiPlugin[];
  logger?: FastifyServerOptions['loggerInstance'] | boolean;
  /** timeouts, connection limit, metrics cache (the config's `server` section); schema defaults for the rest */
  limits?: Partial<HttpLimits>;
  /** monotonic milliseconds for the /metrics cache (tests inject one) */
  now?: () => number;
  /** who may call what (./access.ts); unset fields: loopback, no token, reads and /metrics open */
  access?: Partial<AccessOptions>;
}

export type HttpLimits = Omit<Static<typeof ServerConfig>, 'host' | 'port' | 'auth' | 'allowedHosts' | 'corsOrigins'>;

const DEFAULT_ACCESS: AccessOptions = { host: '127.0.0.1', token: null, read: 'open', metrics: 'open', allowedHosts: [], corsOrigins: [], sessionTtlSeconds: 12 * 3600 };

/** The body of every error reply (errors.ts makes them); list it in a route's response schema per code. */
export const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String({ description: 'what was wrong with the request' }),
});

/** The one app factory: the daemon listens with it, tests `inject` into it. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const logger = opts.logger ?? false;
  const limits = { ...(Value.Default(ServerConfig, {}) as HttpLimits), ...opts.limits };
  const requestTimeout = limits.requestTimeoutMs;
  const headersTimeout = Math.min(limits.headersTimeoutMs, requestTimeout); // node refuses headers > request
  const app = Fastify({
    ...(typeof logger === 'boolean' ? { logger } : { loggerInstance: logger }),
    // node has one request timeout per server: the upload's; the others get theirs from bodyTimeout below
    requestTimeout: Math.max(requestTimeout, limits.uploadTimeoutMs),
    bodyLimit: limits.bodyLimitBytes,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // node checks the header and request timeouts on this interval (30 s unless told)
    http: { maxHeaderSize: limits.maxHeaderBytes, headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))) },
    // finiteNumbers: coercion turns "Infinity" into a number that min/max let through; refused here for every route
    schemaErrorFormatter: (errors, dataVar) => schemaErrorFormatter(errors, dataVar),
    // discriminatedUnions: a union with a tag (audio.kind) is checked by its tag and names it when wrong (union.ts)
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false, discriminator: true }, plugins: [discriminatedUnions, finiteNumbers] },
    // unions of primitive types (integer | "cpu") written without ajv, as the onRoute hook below
    // does for the rest in forms the OpenAPI document can carry (response-schema.ts)
    schemaController: { compilersFactory: { buildSerializer: buildSerializer() } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // every route's errors map to status codes here, and only here (see errors.ts)
  app.setErrorHandler(errorHandler);
  // before the first route: a reply's serializer must not compile ajv validators on the loop the
  // control loop runs on (response-schema.ts); the OpenAPI document reads the same schemas
  app.addHook('onRoute', (route) => {
    const response = route.schema?.response;
    const serializable = serializableResponses(response);
    if (serializable !== response) route.schema = { ...route.schema, response: serializable };
  });
  // first of all hooks: a huge URL is refused before anything parses or logs it
  app.addHook('onRequest', async (req) => {
    if (req.url.length > limits.maxUrlLength) throw new UriTooLongError(`the URL is ${req.url.length} characters; at most ${limits.maxUrlLength} (server.maxUrlLength)`);
  });
  // the spec collects routes as they are added (an onRoute hook), so it comes before the first
  // route: registered after the access routes, it left /v1/auth/* out of /docs/json
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'gance', description: 'Rig daemon: thermal control, synthesis, renders', version },
    },
    transformObject: (d) => optionalDefaults('openapiObject' in d ? d.openapiObject : d.swaggerObject),
  });
  app.addHook('onRequest', async (req, reply) => bodyTimeout(req, reply, requestTimeout));
  // before any validator (ajv's, a route's own) walks the body recursively: see findTooDeep
  app.addHook('preValidation', async (req) => {
    const deep = findTooDeep(req.body);
    if (deep !== null) throw new BadRequestError(`body nests deeper than ${MAX_DEPTH} levels (at ${deep.length > 40 ? `${deep.slice(0, 40)}...` : deep})`);
  });
  // before any route: the hook then runs for every route, those of later plugins included
  installAccess(app, { ...DEFAULT_ACCESS, ...opts.access }, opts.registry);
  // A WebSocket upgrade refused by a hook that runs before @fastify/websocket's own (the access
  // hook's 401/403/421) is answered on a socket node no longer manages and the plugin does not know
  // to close (its request.ws is unset): close it, or it stays open and app.close() waits for it.
  app.addHook('onResponse', async (req) => {
    const socket = req.raw.socket as Socket | undefined;
    if (req.headers.upgrade !== undefined && (req as { ws?: boolean }).ws !== true && socket && !socket.destroyed) socket.destroy();
  });

  // past this, node closes a new connection as it is accepted ('drop' event), so clients cannot take every descriptor
  app.server.maxConnections = connectionLimit(limits.maxConnections, readProcLimits());

  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', { config: { access: 'public' }, schema: { description: 'Process is alive', tags: ['daemon'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  const Readiness = Type.Object({ ready: Type.Boolean(), notReady: Type.Array(Type.String()) });
  app.get(
    '/readyz',
    { config: { access: 'public' }, schema: { description: 'All subsystems ready (200) or the ones that are not (503)', tags: ['daemon'], response: { 200: Readiness, 503: Readiness } } },
    async (_req, reply) => {
      const notReady = opts.notReady();
      return reply.code(notReady.length === 0 ? 200 : 503).send({ ready: notReady.length === 0, notReady });
    },
  );

  const exposition = cachedExposition(opts.registry, limits.metricsCacheMs, opts.now ?? (() => performance.now()));
  app.get('/metrics', { config: { access: 'metrics' }, schema: { description: 'Prometheus exposition', tags: ['daemon'], produces: ['text/plain'] } }, async (_req, reply) => {
    const body = await exposition();
    return reply.type(opts.registry.contentType).send(body);
  });

  for (const p of opts.plugins ?? []) await app.register(p.plugin, { prefix: p.prefix });

  await app.ready();
  return app;
}

/**
 * A request field or parameter with a default may be left out (validation fills it in), but TypeBox
 * lists it as required, and so did the document: a client generated from /docs/json had to send
 * fps, maxClients and jpegQuality to start a live session, ?source= to patch a zone. The document
 * says what the routes accept: such fields are optional there. Responses keep theirs (always sent).
 */
export function optionalDefaults<T>(doc: T): T {
  const relax = (schema: unknown): void => {
    if (schema === null || typeof schema !== 'object') return;
    if (Array.isArray(schema)) return schema.forEach(relax);
    const s = schema as { required?: unknown; properties?: Record<string, { default?: unknown }> };
    if (Array.isArray(s.required) && s.properties) {
      const props = s.properties;
      s.required = s.required.filter((k) => typeof k !== 'string' || props[k]?.default === undefined);
      if ((s.required as unknown[]).length === 0) delete s.required;
    }
    for (const v of Object.values(s)) relax(v);
  };
  type Operation = { requestBody?: unknown; parameters?: Array<{ required?: boolean; in?: string; schema?: { default?: unknown } }> };
  const paths = (doc as { paths?: Record<string, Record<string, Operation>> }).paths ?? {};
  for (const ops of Object.values(paths)) {
    for (const op of Object.values(ops)) {
      if (op === null || typeof op !== 'object') continue;
      relax(op.requestBody);
      for (const p of op.parameters ?? []) {
        // a path parameter is always there; a query one with a default need not be
        if (p.in !== 'path' && p.required && p.schema?.default !== undefined) p.required = false;
        relax(p.schema);
      }
    }
  }
  return doc;
}

/**
 * A body (other than an upload's) still arriving after `ms` is answered 408 and its connection
 * closed, as node does with its own request timeout, which is set to the longer upload timeout.
 */
function bodyTimeout(req: FastifyRequest, reply: FastifyReply, ms: number): void {
  // an injected request (tests) has no connection to time out
  if (!(req.raw.socket instanceof Socket) || req.raw.complete || /^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) return;
  const timer = setTimeout(() => {
    if (req.raw.complete) return;
    const res = reply.raw;
    if (!res.headersSent) {
      res.writeHead(408, { connection: 'close', 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ statusCode: 408, error: 'Request Timeout', message: `the request was not fully received within ${ms} ms (server.requestTimeoutMs)` }));
    }
    req.raw.socket.destroySoon();
  }, ms);
  timer.unref();
  const clear = () => clearTimeout(timer);
  req.raw.once('end', clear).once('close', clear);
  reply.raw.once('finish', clear);
}

/**
 * Scrapes share one exposition: concurrent ones wait on the same registry.metrics() and later ones
 * get its answer until ttlMs after it was built. Building it runs every collector on the event loop
 * the control loop also needs, so 200 scrapers must not cost 200 builds. A failure is not kept.
 */
function cachedExposition(registry: Registry, ttlMs: number, now: () => number): () => Promise<string> {
  let pending: Promise<string> | null = null;
  let body: string | null = null;
  let builtAt = -Infinity;
  return () => {
    if (body !== null && now() - builtAt < ttlMs) return Promise.resolve(body);
    pending ??= registry.metrics().then(
      (text) => {
        body = text;
        builtAt = now();
        pending = null;
        return text;
      },
      (err: unknown) => {
        body = null;
        pending = null;
        throw err;
      },
    );
    return pending;
  };
}

/**
 * The configured connection limit, kept to half the process's soft descriptor limit (from
 * /proc/self/limits text; a plain `ulimit -n 1024` outside systemd) so that clients can never take
 * the descriptors nvidia-smi, the serial port and the workers need. At least 16.
 */
export function connectionLimit(configured: number, procLimits: string | undefined): number {
  const soft = procLimits?.match(/^Max open files\s+(\d+)\s/m)?.[1];
  return soft === undefined ? configured : Math.min(configured, Math.max(16, Math.floor(Number(soft) / 2)));
}

function readProcLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
}
