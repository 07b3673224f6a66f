// Module loader hook (node:module register) that hands h5wasm's own files to node as they are, ahead
// of tsx's hook. tsx rewrites every ES module it loads, node_modules included: for h5wasm's 4 MB
// emscripten wrapper that rewrite and its source map cost seconds of CPU and leave the process about
// 600 MB larger for good. h5wasm ships plain ES modules; nothing in them needs tsx.
// Plain .mjs, not TypeScript: it runs on the loader thread, which must not need tsx to load it.
import { readFile } from 'node:fs/promises';

const H5WASM_DIR = '/node_modules/h5wasm/';

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && new URL(url).pathname.includes(H5WASM_DIR) && /\.m?js$/.test(new URL(url).pathname)) {
    return { format: 'module', source: await readFile(new URL(url)), shortCircuit: true };
  }
  return nextLoad(url, context);
}
