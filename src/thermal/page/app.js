// The thermal page: one section per zone with its live chart (the daemon's chart.svg), alarms,
// and the PID settings; "Preview" runs the gains on the zone's plant model (identified, or the
// simulator's) before "Apply" sends them (PATCH /v1/thermal/zones/{zone}). Plain ES module.
/* global document, fetch, window */

const API = '/v1/thermal';
const FIELDS = [
  ['setpoint', 'setpoint, C', (z) => z.settings.pid.setpoint],
  ['kp', 'kp', (z) => z.settings.pid.kp],
  ['ki', 'ki', (z) => z.settings.pid.ki],
  ['kd', 'kd', (z) => z.settings.pid.kd],
];

async function json(path, init) {
  const res = await fetch(path, init && { ...init, headers: { 'content-type': 'application/json' }, body: JSON.stringify(init.body) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `${res.status} ${res.statusText}`);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

/** a small SVG of a preview trace: temperature from the setpoint over time */
function traceSvg(trace) {
  const w = 420;
  const h = 140;
  const ts = trace.map((p) => p.t);
  const ys = trace.map((p) => p.temperature);
  const t1 = Math.max(...ts) || 1;
  const lo = Math.min(0, ...ys);
  const hi = Math.max(...ys) || 1;
  const pts = trace.map((p) => `${((p.t / t1) * (w - 10) + 5).toFixed(1)},${(h - 5 - ((p.temperature - lo) / (hi - lo || 1)) * (h - 10)).toFixed(1)}`).join(' ');
  const zero = (h - 5 - ((0 - lo) / (hi - lo || 1)) * (h - 10)).toFixed(1);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', w);
  svg.setAttribute('height', h);
  svg.innerHTML = `<line x1="0" x2="${w}" y1="${zero}" y2="${zero}" stroke="#999" stroke-dasharray="4 3"/><polyline data-series="preview" fill="none" stroke="#d62728" stroke-width="1.5" points="${pts}"/>`;
  return svg;
}

function zoneSection(z) {
  const section = el('section', { class: 'zone', id: `zone-${z.id}` });
  section.append(el('h2', {}, `zone ${z.id}`));
  section.append(el('p', { class: 'state' }));
  section.append(el('ul', { class: 'alarms' }));
  section.append(el('div', { class: 'chart' }));
  const form = el('form', { class: 'settings' });
  for (const [name, label, get] of FIELDS) {
    const input = el('input', { name, type: 'number', step: 'any', value: String(get(z)) });
    form.append(el('label', {}, `${label} `, input));
  }
  const preview = el('button', { type: 'button', class: 'preview-button' }, 'Preview');
  const apply = el('button', { type: 'submit', class: 'apply-button' }, 'Apply');
  const status = el('span', { class: 'status' });
  form.append(preview, apply, status);
  const out = el('div', { class: 'preview' });
  section.append(form, out);
  // An emptied or unreadable field is refused here: Number('') is 0, and a cleared kp went out as kp 0
  const values = () =>
    Object.fromEntries(
      FIELDS.map(([name, label]) => {
        const input = form.elements[name];
        const x = Number(input.value);
        if (input.value.trim() === '' || !input.validity.valid || !Number.isFinite(x)) throw new Error(`${label}: enter a number`);
        return [name, x];
      }),
    );
  preview.addEventListener('click', async () => {
    try {
      const v = values();
      const r = await json(`${API}/zones/${encodeURIComponent(z.id)}/preview`, { method: 'POST', body: { kp: v.kp, ki: v.ki, kd: v.kd } });
      out.replaceChildren(
        el('p', { class: 'preview-text' }, `on the ${r.model.source} model (gain ${r.model.gain.toFixed(1)} C/duty, ${r.model.timeConstantS.toFixed(0)} s, dead time ${r.model.deadTimeS.toFixed(1)} s): setpoint lowered 5 C -> overshoot ${r.overshootC.toFixed(2)} C, settles ${r.settlingS === null ? 'never' : `in ${r.settlingS.toFixed(0)} s`}${r.oscillating ? ', KEEPS OSCILLATING' : ''}`),
        traceSvg(r.trace),
      );
    } catch (err) {
      out.replaceChildren(el('p', { class: 'error' }, `preview failed: ${err.message}`));
    }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const v = values();
      status.textContent = 'applying...';
      const r = await json(`${API}/zones/${encodeURIComponent(z.id)}`, { method: 'PATCH', body: { pid: { setpoint: v.setpoint, kp: v.kp, ki: v.ki, kd: v.kd } } });
      status.textContent = r.persisted ? 'applied' : 'applied, NOT saved (see the daemon log)';
    } catch (err) {
      status.textContent = `refused: ${err.message}`;
    }
  });
  return section;
}

function update(section, z) {
  section.querySelector('.state').textContent = `${z.mode}, ${z.temperature === null ? '-' : z.temperature.toFixed(1)} C (setpoint ${z.setpoint} C), duty ${Math.round(z.duty * 100)}%${z.failsafe ? ', FAILSAFE: fans at full' : ''}`;
  const ul = section.querySelector('.alarms');
  ul.replaceChildren(...z.alarms.map((a) => el('li', { class: a.failsafe ? 'failsafe' : 'alarm' }, `${a.kind} (${a.subject}): ${a.message}`)));
}

async function refresh(sections) {
  const s = await json(API);
  document.getElementById('summary').textContent = `${s.zones.length} zone(s); ${s.failsafe ? 'FAILSAFE active' : 'all under control'}`;
  for (const z of s.zones) {
    let section = sections.get(z.id);
    if (!section) {
      section = zoneSection(z);
      sections.set(z.id, section);
      document.getElementById('zones').append(section);
    }
    update(section, z);
    const res = await fetch(`${API}/zones/${encodeURIComponent(z.id)}/chart.svg?seconds=${window.CHART_SECONDS || 300}`);
    if (res.ok) section.querySelector('.chart').innerHTML = await res.text();
  }
  document.body.dataset.ready = 'true';
}

const sections = new Map();
async function loop() {
  try {
    await refresh(sections);
  } catch (err) {
    document.getElementById('summary').textContent = `cannot reach the daemon: ${err.message}`;
  }
  setTimeout(loop, 5000);
}
loop();
