/**
 * SVG charts of a zone over time: temperature and setpoint (C) in the top panel, duty (%) and
 * fan speed (rpm, right axis) in the bottom one. Plain strings, no dependency; every text is
 * escaped, so the output is well-formed XML whatever the series are called. Each series is one
 * <path> (or one per unbroken run: a null breaks the line) with data-series="NAME".
 */

export interface ChartSeries {
  name: string;
  /** [seconds, value | null]; null breaks the line */
  points: ReadonlyArray<readonly [number, number | null]>;
  color?: string;
  dashed?: boolean;
}

export interface ChartAxis {
  label: string;
  series: ChartSeries[];
  /** fixed range; default: the data's, padded */
  min?: number;
  max?: number;
}

export interface ChartPanel {
  left: ChartAxis;
  right?: ChartAxis;
}

export interface ChartOptions {
  title: string;
  panels: ChartPanel[];
  width?: number;
  /** per panel */
  panelHeight?: number;
  /** label of the time axis (default "time, s") */
  timeLabel?: string;
}

const PALETTE = ['#d62728', '#7f7f7f', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));

function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function range(axis: ChartAxis): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of axis.series) {
    for (const [, v] of s.points) {
      if (v === null || !Number.isFinite(v)) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.05;
  return [axis.min ?? lo - pad, axis.max ?? hi + pad];
}

export function renderChart(o: ChartOptions): string {
  const width = o.width ?? 900;
  const ph = o.panelHeight ?? 220;
  const m = { left: 64, right: 64, top: 36, gap: 36, bottom: 40 };
  const height = m.top + o.panels.length * ph + (o.panels.length - 1) * m.gap + m.bottom;
  const plotW = width - m.left - m.right;
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const p of o.panels) {
    for (const a of [p.left, p.right]) for (const s of a?.series ?? []) for (const [t] of s.points) if (Number.isFinite(t)) [t0, t1] = [Math.min(t0, t), Math.max(t1, t)];
  }
  if (!Number.isFinite(t0)) [t0, t1] = [0, 1];
  if (t1 <= t0) t1 = t0 + 1;
  const x = (t: number) => m.left + ((t - t0) / (t1 - t0)) * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<title>${escapeXml(o.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left}" y="20" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>`);
  let color = 0;
  o.panels.forEach((panel, k) => {
    const top = m.top + k * (ph + m.gap);
    const bottom = top + ph;
    out.push(`<g class="panel" data-panel="${k}">`);
    out.push(`<rect x="${m.left}" y="${top}" width="${plotW}" height="${ph}" fill="none" stroke="#cccccc"/>`);
    const axes: [ChartAxis, 'left' | 'right'][] = [[panel.left, 'left']];
    if (panel.right) axes.push([panel.right, 'right']);
    let legendX = m.left + 4;
    for (const [axis, side] of axes) {
      const [lo, hi] = range(axis);
      const y = (v: number) => bottom - ((v - lo) / (hi - lo)) * ph;
      const ax = side === 'left' ? m.left : m.left + plotW;
      for (const v of niceTicks(lo, hi)) {
        const yy = num(y(v));
        if (side === 'left') out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${yy}" y2="${yy}" stroke="#eeeeee"/>`);
        out.push(`<text x="${side === 'left' ? ax - 4 : ax + 4}" y="${yy}" dy="4" text-anchor="${side === 'left' ? 'end' : 'start'}">${escapeXml(num(v))}</text>`);
      }
      const lx = side === 'left' ? 14 : width - 14;
      out.push(`<text x="${lx}" y="${top + ph / 2}" text-anchor="middle" transform="rotate(${side === 'left' ? -90 : 90} ${lx} ${top + ph / 2})">${escapeXml(axis.label)}</text>`);
      for (const s of axis.series) {
        const c = s.color ?? PALETTE[color++ % PALETTE.length]!;
        const runs: string[] = [];
        let run: string[] = [];
        for (const [t, v] of s.points) {
          if (v === null || !Number.isFinite(v) || !Number.isFinite(t)) {
            if (run.length) runs.push(run.join(' '));
            run = [];
            continue;
          }
          const yy = Math.max(top, Math.min(bottom, y(v)));
          run.push(`${run.length ? 'L' : 'M'}${num(x(t))},${num(yy)}`);
        }
        if (run.length) runs.push(run.join(' '));
        const d = runs.join(' ');
        out.push(`<path data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${escapeXml(c)}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
        out.push(`<text class="legend" x="${legendX}" y="${top - 6}" fill="${escapeXml(c)}">${escapeXml(s.name)}</text>`);
        legendX += 12 + 7 * s.name.length;
      }
    }
    if (k === o.panels.length - 1) {
      for (const t of niceTicks(t0, t1, 8)) out.push(`<text x="${num(x(t))}" y="${bottom + 14}" text-anchor="middle">${escapeXml(num(t))}</text>`);
      out.push(`<text x="${m.left + plotW / 2}" y="${bottom + 32}" text-anchor="middle">${escapeXml(o.timeLabel ?? 'time, s')}</text>`);
    }
    out.push('</g>');
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** A zone's usual chart from rows of samples (t in s). Columns that are absent are left out. */
export interface ZoneChartRow {
  t: number;
  temperature: number | null;
  setpoint?: number | null;
  duty?: number | null;
  rpm?: number | null;
}

export function zoneChart(title: string, rows: ReadonlyArray<ZoneChartRow>, o: { timeLabel?: string } = {}): string {
  const col = (f: (r: ZoneChartRow) => number | null | undefined) => rows.map((r) => [r.t, f(r) ?? null] as const);
  const has = (f: (r: ZoneChartRow) => unknown) => rows.some((r) => f(r) !== undefined && f(r) !== null);
  const temps: ChartSeries[] = [{ name: 'temperature', points: col((r) => r.temperature), color: '#d62728' }];
  if (has((r) => r.setpoint)) temps.push({ name: 'setpoint', points: col((r) => r.setpoint), color: '#7f7f7f', dashed: true });
  const panels: ChartPanel[] = [{ left: { label: 'C', series: temps } }];
  const duty: ChartSeries[] = has((r) => r.duty) ? [{ name: 'duty', points: col((r) => (r.duty === null || r.duty === undefined ? null : r.duty * 100)), color: '#1f77b4' }] : [];
  const rpm: ChartSeries[] = has((r) => r.rpm) ? [{ name: 'rpm', points: col((r) => r.rpm), color: '#2ca02c' }] : [];
  if (duty.length || rpm.length) {
    panels.push({ left: { label: 'duty, %', series: duty, min: 0, max: 100 }, right: rpm.length ? { label: 'rpm', series: rpm, min: 0 } : undefined });
  }
  return renderChart({ title, panels, timeLabel: o.timeLabel });
}

/** CSV of the same rows (header line; empty cells for nulls). */
export function zoneCsv(rows: ReadonlyArray<ZoneChartRow & Record<string, unknown>>, columns: string[] = ['t', 'temperature', 'setpoint', 'duty', 'rpm']): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'number' ? String(Number(v.toPrecision(8))) : String(v));
  return `${columns.join(',')}\n${rows.map((r) => columns.map((c) => cell(r[c])).join(',')).join('\n')}\n`;
}
