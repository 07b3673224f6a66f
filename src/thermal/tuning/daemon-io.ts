/**
 * A zone of a running daemon as a ZoneIo, through its API: the experiment holds the zone in fixed
 * mode (slew and backlash off, so a step is a step) with PATCH, reads it with GET. begin() keeps
 * the zone's settings and where each came from; restore() puts them back: the tunings go (the
 * active mode's settings stay, DELETE ?keepMode), then each setting a tuning or an autotune result
 * had set is set again with that source. A PUT of everything the zone had made the mode's settings
 * a tuning, and clearing the mode later left them on the zone.
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
  let saved: ZoneView | undefined;
  let t0 = Date.now();
  return {
    periodS: o.periodS ?? 1,
    resolutionC: o.resolutionC ?? 1,
    async begin() {
      const z = await api<ZoneView>(path);
      saved = z;
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
      if (saved.tuned === null) {
        await api(`${path}/tuning`, { method: 'DELETE' });
        return;
      }
      await api(`${path}/tuning?keepMode=true`, { method: 'DELETE' });
      for (const source of ['tuning', 'autotune'] as const) {
        const patch = settingsFrom(saved, source);
        if (Object.keys(patch).length) await api(`${path}?source=${source}`, { method: 'PATCH', body: patch });
      }
    },
  };
}

/** The zone's settings whose provenance is `source`, as a patch (`pid.kp` -> { pid: { kp } }). */
function settingsFrom(z: ZoneView, source: 'tuning' | 'autotune'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const settings = z.settings as unknown as Record<string, unknown>;
  for (const [p, origin] of Object.entries(z.provenance)) {
    if (origin.source !== source) continue;
    const [k, sub] = p.split('.') as [string, string | undefined];
    if (sub === undefined) out[k] = settings[k];
    else out[k] = { ...(out[k] as object | undefined), [sub]: (settings[k] as Record<string, unknown>)[sub] };
  }
  return out;
}
