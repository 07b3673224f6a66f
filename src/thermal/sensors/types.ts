/**
 * What thermal control reads about GPUs. Every source (nvidia-smi stream, systeminformation
 * fallback, simulated plant through the fake nvidia-smi) produces these.
 */
import type { EventEmitter } from 'node:events';

export interface GpuSample {
  /** nvidia-smi GPU index */
  index: number;
  uuid: string;
  /** null when the driver reports [N/A] / [Not Supported] / an error for this field */
  temperatureC: number | null;
  powerW: number | null;
  /** 0..1 */
  utilization: number | null;
  /** active clock event (throttle) reasons bitmask; null when unsupported */
  throttleMask: number | null;
  /** names of the set bits, e.g. ['sw_thermal_slowdown'] */
  throttleReasons: string[];
  /** monotonic receive time (performance.now() milliseconds) */
  receivedAt: number;
  /** which source produced it */
  source: 'nvidia-smi' | 'systeminformation';
}

export interface GpuInfo {
  index: number;
  uuid: string;
  name: string;
  driverVersion: string;
  pciBus: string;
}

export interface SensorStats {
  /** the reading process is running and producing output */
  running: boolean;
  restarts: number;
  failedSamples: number;
  /** the throttle-reasons field name the driver accepted, or null if it takes neither */
  reasonsField: string | null;
  /** last reason the reader went down, if any */
  lastError: string | null;
}

/**
 * Events: 'sample' (GpuSample); 'failed-sample' ({ line, reason }); 'restart' ({ reason, delayMs });
 * 'running' (boolean) when the reading process comes up / goes down.
 */
export interface GpuSensorSource extends EventEmitter {
  readonly kind: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** latest sample per GPU index (never cleared: callers judge age) */
  latest(): ReadonlyMap<number, GpuSample>;
  /** GPU indices absent from the last complete output cycle although seen before */
  missing(): ReadonlySet<number>;
  stats(): SensorStats;
}
