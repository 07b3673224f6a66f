/**
 * Signing in, shared by the pages: when the daemon has a token and this browser has no session
 * cookie (GET /v1/auth/session says), a form asks for the token once and trades it for the
 * HttpOnly cookie (POST /v1/auth/session, a same-origin fetch: the token never goes into a URL);
 * the WebSocket then opens with the cookie. A login link (POST /v1/auth/link) sets the cookie
 * before the page loads, so the form never shows. `signedIn()` resolves once the page may connect.
 */
const SIGN_IN_CSS = `#signin{position:fixed;inset:0;display:flex;align-items:center;justify-content:center;background:#111;font:14px sans-serif;color:#ddd;cursor:auto}
#signin[hidden]{display:none}
#signin form{display:flex;flex-direction:column;gap:8px;min-width:260px}
#signin input,#signin button{font:inherit;padding:6px}
#signin .why{color:#f88;min-height:1.2em}`;
const SIGN_IN_HTML = `<div id="signin" hidden><form><label for="token">This daemon needs its API token (asked once; a cookie keeps you signed in)</label>
<input id="token" type="password" autocomplete="current-password" required><button type="submit">Sign in</button><div class="why"></div></form></div>`;
const SIGN_IN_JS = `
  function signedIn(report) {
    return fetch('/v1/auth/session', { credentials: 'same-origin', cache: 'no-store' }).then((r) => r.json()).then((s) => {
      if (!s.tokenRequired.write || s.authenticated) { report('ok'); return; }
      report('needed');
      const box = document.getElementById('signin'), form = box.querySelector('form'), why = box.querySelector('.why');
      box.hidden = false;
      return new Promise((resolve) => {
        form.onsubmit = (e) => {
          e.preventDefault();
          fetch('/v1/auth/session', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: document.getElementById('token').value }) })
            .then((r) => r.ok ? (box.hidden = true, document.getElementById('token').value = '', report('ok'), resolve()) : r.json().then((b) => { why.textContent = b.message || ('HTTP ' + r.status); }))
            .catch((err) => { why.textContent = String(err); });
        };
      });
    });
  }`;

/**
 * The projector page: full-screen frames from the session's WebSocket (binary messages: a 4-byte
 * header length, a JSON header, the JPEG), drawn on a canvas, the newest only (a frame arriving
 * while one decodes waits in one slot). After each paint it reports the frame's number back, which
 * the daemon turns into the sample-to-paint latency. `h`, Escape or a click hides the overlay.
 * window.__live exposes what was painted (the browser test reads it).
 */
export function projectorPage(id: string): string {
  const safeId = JSON.stringify(id).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gance live ${id.replace(/[^\w-]/g, '')}</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
html,body{margin:0;height:100%;background:#000;overflow:hidden;cursor:none}
canvas{display:block;width:100vw;height:100vh}
#o{position:fixed;left:8px;bottom:8px;font:12px/1.4 monospace;color:#ddd;background:rgba(0,0,0,.6);padding:6px 8px;border-radius:4px;white-space:pre;pointer-events:none}
#o.hidden{display:none}
${SIGN_IN_CSS}
</style></head>
<body><canvas id="c"></canvas><div id="o">connecting…</div>${SIGN_IN_HTML}
<script>
(() => {
  const id = ${safeId};
  const canvas = document.getElementById('c');
  const ctx = canvas.getContext('2d');
  const overlay = document.getElementById('o');
  const live = (window.__live = { painted: 0, lastSeq: -1, network: null, decodeErrors: 0, connected: false, state: null, signIn: null });${SIGN_IN_JS}
  let ws = null, decoding = false, waiting = null;
  function toggle() { overlay.classList.toggle('hidden'); }
  addEventListener('keydown', (e) => { if (e.key === 'h' || e.key === 'Escape') toggle(); });
  addEventListener('click', toggle);
  function fit() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(innerWidth * dpr), h = Math.round(innerHeight * dpr);
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  }
  function ms(v) { return v.p50 === null ? '-' : v.p50 + '/' + v.p99; }
  function show(s) {
    live.state = s;
    const d = s.frames.dropped, drops = Object.keys(d).filter((k) => d[k] > 0).map((k) => k + ' ' + d[k]).join(', ') || 'none';
    overlay.textContent = s.state + '  ' + s.networks.join(', ') + (s.pendingNetworks ? ' (loading ' + s.pendingNetworks.join(', ') + ')' : '') +
      '\\nfps ' + s.measuredFps + ' / ' + s.fps + '  drops: ' + drops +
      '\\nlatency ms p50/p99: publish ' + ms(s.latencyMs.publish) + '  paint ' + ms(s.latencyMs.paint) +
      (s.error ? '\\n' + s.error : '');
  }
  function draw(f) {
    decoding = true;
    createImageBitmap(f.jpeg).then((bmp) => {
      fit();
      const scale = Math.min(canvas.width / bmp.width, canvas.height / bmp.height);
      const w = bmp.width * scale, h = bmp.height * scale;
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(bmp, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
      bmp.close();
      requestAnimationFrame(() => {
        live.painted++;
        live.lastSeq = f.head.seq;
        live.network = f.head.network;
        if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'paint', seq: f.head.seq }));
      });
    }, () => { live.decodeErrors++; }).finally(() => {
      decoding = false;
      if (waiting) { const w = waiting; waiting = null; draw(w); }
    });
  }
  // the cookie may have expired while the page was up: ask again before each (re)connection
  function connect() { signedIn((v) => { live.signIn = v; }).then(open, () => setTimeout(connect, 1000)); }
  function open() {
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/live/' + encodeURIComponent(id) + '/ws');
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => { live.connected = true; ws.send(JSON.stringify({ type: 'subscribe' })); };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        const m = JSON.parse(ev.data);
        if (m.type === 'state') show(m.session);
        else if (m.type === 'error') overlay.textContent = 'error: ' + m.message;
        return;
      }
      const n = new DataView(ev.data).getUint32(0);
      const head = JSON.parse(new TextDecoder().decode(new Uint8Array(ev.data, 4, n)));
      const f = { head, jpeg: new Blob([new Uint8Array(ev.data, 4 + n)], { type: 'image/jpeg' }) };
      if (decoding) waiting = f; else draw(f);
    };
    // the last frame stays on the canvas while the page reconnects
    ws.onclose = () => { live.connected = false; setTimeout(connect, 1000); };
  }
  connect();
})();
</script></body></html>
`;
}

/**
 * The control page (a laptop at the side of the stage): the session's gains, network set and pin,
 * fps and the picture's placement, each change sent as a WebSocket patch (the message the PATCH
 * route takes) and answered with the session's state. window.__control exposes what happened (the
 * browser test reads it).
 */
export function controlPage(id: string): string {
  const safeId = JSON.stringify(id).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gance live control ${id.replace(/[^\w-]/g, '')}</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{margin:0;padding:12px;background:#181818;color:#ddd;font:14px sans-serif}
label{display:grid;grid-template-columns:9em 1fr 4em;gap:8px;align-items:center;margin:6px 0}
input,select,button{font:inherit}
#state{white-space:pre;font:12px monospace;color:#aaa;margin-top:12px}
#err{color:#f88;min-height:1.2em}
${SIGN_IN_CSS}
</style></head>
<body><h3>live ${id.replace(/[^\w-]/g, '')}</h3>
<form id="f">
<label>alpha <input type="range" name="alpha" min="0" max="1" step="0.01"><output></output></label>
<label>pulse <input type="range" name="pulse" min="0" max="10" step="0.1"><output></output></label>
<label>motion <input type="range" name="motion" min="0" max="10" step="0.1"><output></output></label>
<label>chroma <input type="range" name="chroma" min="0" max="10" step="0.1"><output></output></label>
<label>network <select name="networkOverride"><option value="">follow the music</option></select><span></span></label>
<label>network set <input type="text" name="networks" placeholder="id, id"><button type="button" id="setnet">load</button></label>
<label>fps <input type="number" name="fps" min="1" max="120"><span></span></label>
</form>
<div id="err"></div><div id="state">connecting…</div>${SIGN_IN_HTML}
<script>
(() => {
  const id = ${safeId};
  const form = document.getElementById('f'), err = document.getElementById('err'), stateBox = document.getElementById('state');
  const control = (window.__control = { connected: false, signIn: null, patched: 0, lastError: null, state: null });${SIGN_IN_JS}
  let ws = null, shown = false;
  function send(patch) {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'patch', patch }));
  }
  function show(s) {
    control.state = s;
    stateBox.textContent = s.state + '  ' + s.networks.join(', ') + (s.pendingNetworks ? ' (loading ' + s.pendingNetworks.join(', ') + ')' : '') + '\\nfps ' + s.measuredFps + ' / ' + s.fps + (s.error ? '\\n' + s.error : '');
    if (shown) return;
    // the first state fills the form; later ones do not fight the hand on a slider
    shown = true;
    for (const k of ['alpha', 'pulse', 'motion', 'chroma']) { form.elements[k].value = s.params[k]; form.elements[k].nextElementSibling.textContent = s.params[k]; }
    const sel = form.elements.networkOverride;
    s.networks.forEach((n, i) => { const o = document.createElement('option'); o.value = String(i); o.textContent = n; sel.appendChild(o); });
    sel.value = s.params.networkOverride === null ? '' : String(s.params.networkOverride);
    form.elements.networks.value = s.networks.join(', ');
    form.elements.fps.value = s.fps;
  }
  for (const k of ['alpha', 'pulse', 'motion', 'chroma']) form.elements[k].addEventListener('input', (e) => { e.target.nextElementSibling.textContent = e.target.value; send({ [k]: Number(e.target.value) }); });
  form.elements.networkOverride.addEventListener('change', (e) => send({ networkOverride: e.target.value === '' ? null : Number(e.target.value) }));
  form.elements.fps.addEventListener('change', (e) => send({ fps: Number(e.target.value) }));
  document.getElementById('setnet').addEventListener('click', () => send({ networks: form.elements.networks.value.split(',').map((v) => v.trim()).filter(Boolean) }));
  function connect() { signedIn((v) => { control.signIn = v; }).then(open, () => setTimeout(connect, 1000)); }
  function open() {
    ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/live/' + encodeURIComponent(id) + '/ws');
    ws.onopen = () => { control.connected = true; err.textContent = ''; };
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'state') show(m.session);
      else if (m.type === 'patched') { control.patched++; show(m.session); }
      else if (m.type === 'error') { control.lastError = m.message; err.textContent = m.message; }
    };
    ws.onclose = () => { control.connected = false; stateBox.textContent = 'disconnected; reconnecting…'; setTimeout(connect, 1000); };
  }
  connect();
})();
</script></body></html>
`;
}
