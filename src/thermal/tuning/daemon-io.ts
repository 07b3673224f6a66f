/**
 * A zone of a running daemon as a ZoneIo, through its API: the experiment holds the zone in fixed
 * mode (slew and backlash off, so a step is a step) with PATCH, reads it with GET. begin() keeps
 * the zone's run-time tuning; restore() puts it back (PUT, or DELETE when there was none).
 * failsafe() sets fixed mode at full duty, and that is where a failed experiment leaves the zone
 * (the CLI says how to give it back). The daemon's own failsafes (critical temperature, sensor
 * faults) keep working throughout.
 */
import type { ZoneView } from '../service/view.ts';
import type { ZoneIo, ZoneSample } from './zone-io.ts';

export type Api = <T>(path: string, init?: { method: string; body?: unknown }) => Promise<T>;

export interface DaemonZoneIo extends ZoneIo {
  begin(): Promise<ZoneView>;
  restore(): Promise<void>;
}

export function daemonZoneIo(api: Api, zone: string, o: { periodS?: number; resolutionC?: number; sleep?: (s: number) => Promise<void> } = {}): DaemonZoneIo {
  const path = `/v1/thermal/zones/${encodeURIComponent(zone)}`;
  const sleep = o.sleep ?? ((s: number) => new Promise<void>((r) => setTimeout(r, s * 1000)));
  let saved: ZoneView['tuned'] | undefined;
  let t0 = Date.now();
  return {
    periodS: o.periodS ?? 1,
    resolutionC: o.resolutionC ?? 1,
    async begin() {
      const z = await api<ZoneView>(path);
      saved = z.tuned;
      t0 = Date.now();
      return z;
    },
    async sample(): Promise<ZoneSample> {
      const z = await api<ZoneView>(path);
      const rpms = z.fans.map((f) => f.rpm).filter((r): r is number => r !== null);
      return { t: (Date.now() - t0) / 1000, temperature: z.failsafe ? null : z.temperature, duty: z.duty, rpm: rpms.length ? rpms.reduce((s, r) => s + r, 0) / rpms.length : null };
    },
    async setDuty(duty) {
      await api(path, { method: 'PATCH', body: { mode: 'fixed', fixedDuty: Math.max(0, Math.min(1, duty)), slewUpPerSecond: 100, slewDownPerSecond: 100, reverseDeadband: 0 } });
    },
    wait: sleep,
    async failsafe() {
      await api(path, { method: 'PATCH', body: { mode: 'fixed', fixedDuty: 1 } }).catch(() => undefined);
    },
    async restore() {
      if (saved === undefined) return;
      if (saved === null) await api(`${path}/tuning`, { method: 'DELETE' });
      else await api(path, { method: 'PUT', body: saved });
    },
  };
}
