/**
 * What subsystems are built from and what they give back. It lives below `daemon.ts` so that
 * subsystems never import upward into the daemon that assembles them.
 *
 * Subsystems reach each other through `services`: one typed map, filled in build order (thermal,
 * synthesis, then the ones that use them such as render). A subsystem that needs another asks
 * for it by key and gets a typed value or a clear error, never by probing objects.
 */
import type { ApiPlugin } from './api/app.ts';
import type { Config } from './config/schema.ts';
import type { Cooler } from './cooler/cooler.ts';
import type { DaemonEventBus } from './events.ts';
import type { LatentsService } from './latents/service.ts';
import type { LiveService } from './live/service.ts';
import type { Unit } from './lifecycle/unit.ts';
import type { NetworkManager } from './synthesis/networks/manager.ts';
import type { RenderService } from './render/subsystem.ts';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** Everything one subsystem may offer the others, by key. */
export interface ServiceMap {
  /** the network catalogue and the inference pool (`manager.pool` submits frames) */
  networks: NetworkManager;
  /** per-frame latents from audio, configured by synthesis.latents */
  latents: LatentsService;
  /** render jobs: the queue, the scheduler, and the per-GPU pause/rate throttle */
  renders: RenderService;
  /** live sessions (audio in, frames out to MJPEG and projector pages) */
  live: LiveService;
}

export class ServiceRegistry {
  private readonly entries = new Map<keyof ServiceMap, unknown>();

  provide<K extends keyof ServiceMap>(key: K, value: ServiceMap[K]): void {
    if (this.entries.has(key)) throw new Error(`service "${key}" is provided twice`);
    this.entries.set(key, value);
  }

  /** The service, or an error naming what is missing (a subsystem built before its provider). */
  get<K extends keyof ServiceMap>(key: K): ServiceMap[K] {
    if (!this.entries.has(key)) throw new Error(`service "${key}" is not provided (is its subsystem built earlier?)`);
    return this.entries.get(key) as ServiceMap[K];
  }

  find<K extends keyof ServiceMap>(key: K): ServiceMap[K] | undefined {
    return this.entries.get(key) as ServiceMap[K] | undefined;
  }
}

/** What every subsystem gets to build itself from. */
export interface DaemonContext {
  config: Config;
  log: Logger;
  registry: Registry;
  cooler: Cooler;
  events: DaemonEventBus;
  services: ServiceRegistry;
}

/** What a subsystem contributes: units for the supervisor and routes for the API. */
export interface Subsystem {
  units: Unit[];
  plugins: ApiPlugin[];
}

export type SubsystemFactory = (ctx: DaemonContext) => Promise<Subsystem> | Subsystem;
