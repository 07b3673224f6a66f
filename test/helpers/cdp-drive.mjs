// Drives a headless Chromium page over the DevTools protocol (run with node --experimental-websocket;
// Node 20 has no WebSocket otherwise). argv: <webSocketDebuggerUrl> <steps JSON file>. Each step:
// { navigate: URL } | { waitFor: JS expression, timeoutMs } | { eval: JS expression, as: name }.
// Prints { name: value, ... } as JSON; exits 1 with the reason on a failed step.
import { readFileSync } from 'node:fs';
/* global WebSocket */

const [wsUrl, stepsFile] = process.argv.slice(2);
const steps = JSON.parse(readFileSync(stepsFile, 'utf8'));
const ws = new WebSocket(wsUrl);
let id = 0;
const pending = new Map();
ws.onmessage = (m) => {
  const msg = JSON.parse(m.data);
  if (msg.id && pending.has(msg.id)) {
    pending.get(msg.id)(msg);
    pending.delete(msg.id);
  }
};
const send = (method, params = {}) =>
  new Promise((resolve, reject) => {
    const n = ++id;
    pending.set(n, (msg) => (msg.error ? reject(new Error(`${method}: ${msg.error.message}`)) : resolve(msg.result)));
    ws.send(JSON.stringify({ id: n, method, params }));
  });
const evaluate = async (expression) => {
  const r = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
  if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
  return r.result.value;
};
const out = {};
ws.onopen = async () => {
  try {
    await send('Page.enable');
    for (const s of steps) {
      if (s.navigate) await send('Page.navigate', { url: s.navigate });
      else if (s.waitFor) {
        const end = Date.now() + (s.timeoutMs ?? 15000);
        for (;;) {
          const v = await evaluate(s.waitFor).catch(() => false);
          if (v) break;
          if (Date.now() > end) throw new Error(`timed out waiting for ${s.waitFor}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } else if (s.eval) {
        const v = await evaluate(s.eval);
        if (s.as) out[s.as] = v;
      }
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
    ws.close();
    process.exit(0);
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
};
