/** SVG charts: well-formed, and showing the series asked for. */
import { describe, expect, it } from 'vitest';
import { renderChart, zoneChart, zoneCsv } from '../../../src/thermal/charts/svg.ts';
import { parseXml } from '../../helpers/xml.ts';

const rows = Array.from({ length: 120 }, (_, k) => ({ t: k, temperature: k === 50 ? null : 70 + 5 * Math.sin(k / 10), setpoint: 72, duty: 0.5 + 0.2 * Math.cos(k / 10), rpm: 4500 + 1800 * Math.cos(k / 10) }));

describe('zone charts', () => {
  it('is well-formed XML with one path per series asked for', () => {
    const svg = zoneChart('zone gpu0 <step> & "relay"', rows);
    const els = parseXml(svg);
    expect(els[0]!.name).toBe('svg');
    expect(els.find((e) => e.name === 'title')!.text).toBe('zone gpu0 &lt;step&gt; &amp; &quot;relay&quot;');
    const series = els.filter((e) => e.name === 'path').map((e) => e.attrs['data-series']);
    expect(series).toEqual(['temperature', 'setpoint', 'duty', 'rpm']);
    const temp = els.find((e) => e.attrs['data-series'] === 'temperature')!;
    // the missing sample breaks the line: two runs
    expect(temp.attrs.d!.match(/M/g)).toHaveLength(2);
    expect(temp.attrs.d!.split(/[ML]/).filter(Boolean)).toHaveLength(119);
    expect(els.filter((e) => e.attrs.class === 'legend').map((e) => e.text)).toEqual(['temperature', 'setpoint', 'duty', 'rpm']);
  });

  it('leaves out series with no data, and survives no data at all', () => {
    const svg = zoneChart('t', rows.map(({ t, temperature }) => ({ t, temperature })));
    expect(parseXml(svg).filter((e) => e.name === 'path').map((e) => e.attrs['data-series'])).toEqual(['temperature']);
    expect(() => parseXml(renderChart({ title: 'empty', panels: [{ left: { label: 'C', series: [] } }] }))).not.toThrow();
  });

  it('the checker refuses what is not well-formed', () => {
    expect(() => parseXml('<svg><g></svg>')).toThrow(/closes/);
    expect(() => parseXml('<svg a="1" a="2"/>')).toThrow(/duplicate/);
    expect(() => parseXml('<svg>a & b</svg>')).toThrow(/entity/);
    expect(() => parseXml('<svg/><svg/>')).toThrow(/second root/);
  });

  it('writes the CSV the chart is drawn from', () => {
    const csv = zoneCsv(rows.slice(49, 51)).split('\n');
    expect(csv[0]).toBe('t,temperature,setpoint,duty,rpm');
    expect(csv[1]).toMatch(/^49,65\.087\d+,72,0\.537\d+,4835\.\d+$/);
    // a missing value is an empty cell
    expect(csv[2]).toMatch(/^50,,72,/);
  });
});
