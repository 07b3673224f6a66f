import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config/schema.ts';
import type { Cooler } from './cooler/cooler.ts';
import { createCooler } from './cooler/create.ts';
import { commandFailsafe, coolerUnit } from './cooler/unit.ts';
import { buildApp, type ApiPlugin } from './api/app.ts';
import { indexPage } from './api/index-page.ts';
import { httpUnit } from './api/unit.ts';
import { resolveToken } from './api/access.ts';
import { ensureStateDir, lockStateDir } from './lifecycle/state-dir.ts';
import { Supervisor } from './lifecycle/supervisor.ts';
import type { Unit } from './lifecycle/unit.ts';
import { ServiceRegistry, type DaemonContext, type SubsystemFactory } from './subsystem.ts';
import { createRegistry } from './metrics.ts';
import { createEventBus, type DaemonEventBus } from './events.ts';
import { liveSubsystem } from './live/subsystem.ts';
import { synthesisSubsystem } from './synthesis/subsystem.ts';
import { createRender, type RenderOverrides } from './render/subsystem.ts';
import { thermalSubsystem } from './thermal/subsystem.ts';

export interface DaemonOptions {
  config: Config;
  log: Logger;
  /** extra subsystems (tests inject units here) */
  subsystems?: SubsystemFactory[];
  /** override the cooler (tests) */
  cooler?: Cooler;
  onListening?: (address: string) => void;
  /** the render subsystem's runner (tests inject one) */
  render?: RenderOverrides;
}

export interface Daemon {
  readonly app: FastifyInstance;
  readonly supervisor: Supervisor;
  readonly cooler: Cooler;
  readonly registry: Registry;
  readonly events: DaemonEventBus;
  /** what the subsystems offer each other (tests reach synthesis through it) */
  readonly services: ServiceRegistry;
  start(): Promise<void>;
  /** clean stop; the cooler unit commands the failsafe on its way down */
  stop(): Promise<void>;
  /** crash path: fans to full first, bounded, then whatever stop can do */
  emergency(reason: string): Promise<void>;
}


export async function createDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { config, log } = opts;
  // first: a token file that cannot be read stops the daemon before anything touches the hardware
  const token = resolveToken(config.server.auth);
  // and a state directory that cannot hold the tunings and the render queue
  ensureStateDir(resolve(config.stateDir));
  // and one daemon per state directory, before any subsystem reads or writes there
  const lock = await lockStateDir(resolve(config.stateDir));
  const registry = createRegistry();
  const cooler = opts.cooler ?? (await createCooler(config.cooler, { log: log.child({ unit: 'cooler' }), registry }));
  const events = createEventBus();
  const services = new ServiceRegistry();
  const ctx: DaemonContext = { config, log, registry, cooler, events, services };

  const units: Unit[] = [coolerUnit(cooler, log.child({ unit: 'cooler' }))];
  const plugins: ApiPlugin[] = [];
  const builtinSubsystems: SubsystemFactory[] = [thermalSubsystem, synthesisSubsystem, (c) => createRender(c, opts.render), liveSubsystem];
  for (const factory of [...builtinSubsystems, ...(opts.subsystems ?? [])]) {
    const sub = await factory(ctx);
    units.push(...sub.units);
    plugins.push(...sub.plugins);
  }

  plugins.push(indexPage());

  const late: { supervisor?: Supervisor } = {};
  const app = await buildApp({
    registry,
    plugins,
    // request lines would drown journald at one scrape per 15 s; errors still log
    logger: log.child({ unit: 'http' }, { level: log.levelVal > 40 ? log.level : 'warn' }),
    notReady: () => late.supervisor?.notReady() ?? ['daemon'],
    limits: config.server,
    access: {
      host: config.server.host,
      token,
      read: config.server.auth.read,
      metrics: config.server.auth.metrics,
      allowedHosts: config.server.allowedHosts,
      corsOrigins: config.server.corsOrigins,
      sessionTtlSeconds: config.server.auth.sessionTtlSeconds,
    },
  });
  const http = httpUnit(app, config.server.host, config.server.port, (address, bound) => {
    const auth = token === null ? 'no token: every route open' : `token required for writes${config.server.auth.read === 'token' ? ', reads' : ''}${config.server.auth.metrics === 'token' ? ', /metrics' : ''}`;
    log.info(
      { address, bound, docs: `${address}/docs`, metrics: `${address}/metrics`, auth },
      `gance API listening on ${bound}; from this machine ${address} (docs ${address}/docs, metrics ${address}/metrics); ${auth}`,
    );
    opts.onListening?.(address);
  });
  // http has no dependencies and comes first: /healthz answers while the rest starts.
  const sup = new Supervisor([http, ...units], log);
  late.supervisor = sup;

  return {
    app,
    supervisor: sup,
    cooler,
    registry,
    events,
    services,
    start: () => sup.start(),
    async stop() {
      try {
        await sup.stop(Math.max(500, Math.floor(config.lifecycle.stopTimeoutMs / Math.max(1, sup.units.length))));
      } finally {
        lock.release();
      }
    },
    async emergency(reason: string) {
      await commandFailsafe(cooler, log, reason);
      await sup.stop(500);
    },
  };
}
