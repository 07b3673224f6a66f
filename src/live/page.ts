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
</style></head>
<body><canvas id="c"></canvas><div id="o">connecting…</div>
<script>
(() => {
  const id = ${safeId};
  const canvas = document.getElementById('c');
  const ctx = canvas.getContext('2d');
  const overlay = document.getElementById('o');
  const live = (window.__live = { painted: 0, lastSeq: -1, network: null, decodeErrors: 0, connected: false, state: null });
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
  function connect() {
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
