import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Registry } from 'prom-client';
import { createRequire } from 'node:module';
import { ServerConfig } from '../config/schema.ts';

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
}

export type HttpLimits = Omit<Static<typeof ServerConfig>, 'host' | 'port'>;

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
    requestTimeout,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // node checks the header and request timeouts on this interval (30 s unless told)
    http: { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))) },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // past this, node closes a new connection as it is accepted ('drop' event), so clients cannot take every descriptor
  app.server.maxConnections = limits.maxConnections;

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'gance', description: 'Rig daemon: thermal control, synthesis, renders', version },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', { schema: { description: 'Process is alive', tags: ['daemon'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  const Readiness = Type.Object({ ready: Type.Boolean(), notReady: Type.Array(Type.String()) });
  app.get(
    '/readyz',
    { schema: { description: 'All subsystems ready (200) or the ones that are not (503)', tags: ['daemon'], response: { 200: Readiness, 503: Readiness } } },
    async (_req, reply) => {
      const notReady = opts.notReady();
      return reply.code(notReady.length === 0 ? 200 : 503).send({ ready: notReady.length === 0, notReady });
    },
  );

  app.get('/metrics', { schema: { description: 'Prometheus exposition', tags: ['daemon'], produces: ['text/plain'] } }, async (_req, reply) => {
    const body = await opts.registry.metrics();
    return reply.type(opts.registry.contentType).send(body);
  });

  for (const p of opts.plugins ?? []) await app.register(p.plugin, { prefix: p.prefix });

  await app.ready();
  return app;
}
