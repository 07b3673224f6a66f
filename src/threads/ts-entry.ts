import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WorkerOptions } from 'node:worker_threads';

/**
 * Starting project modules (TypeScript, run through tsx with no build step) in a worker thread or
 * child process. Neither inherits tsx's loader hooks from this process (bin/gance.js registers
 * them in-process), so they get them explicitly. The loader is resolved to an absolute URL here, so
 * it is found whatever the working directory.
 */
const require = createRequire(import.meta.url);
const isTs = (entry: URL) => /\.[cm]?ts$/.test(entry.pathname);

/** tsx's ESM register API (require.resolve would pick its CommonJS build, which cannot register ESM hooks). */
function tsxEsmApi(): string {
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> };
  const rel = pkg.exports['./esm/api']?.import?.default;
  if (!rel) throw new Error(`tsx ${pkgPath}: no ESM export "./esm/api"; cannot start TypeScript worker threads`);
  return pathToFileURL(join(dirname(pkgPath), rel)).href;
}

/** Node flags for a child process whose main module is `entry`. */
export function processExecArgv(entry: URL): string[] {
  return isTs(entry) ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [];
}

/**
 * What `new Worker(...)` needs to run `entry`. On Node 20 a worker's `--import` hooks come too late
 * for its own entry module, so a TypeScript entry is reached through a two-line bootstrap that
 * registers tsx in the thread and then imports it.
 */
export function threadEntry(entry: URL): { script: URL | string; options: Pick<WorkerOptions, 'eval' | 'execArgv'> } {
  if (!isTs(entry)) return { script: entry, options: { execArgv: [] } };
  const api = tsxEsmApi();
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return { script: code, options: { eval: true, execArgv: [] } };
}
