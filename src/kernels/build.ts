/**
 * Builds the WebAssembly kernels: every `*.as.ts` here (AssemblyScript) compiles to the `.wasm`
 * beside it, which is committed so that running the daemon needs no compiler. `npm run build:wasm`
 * runs this; a test compiles them again and compares the bytes.
 *
 *   node --import tsx src/kernels/build.ts [outDir]
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KERNELS_DIR = fileURLToPath(new URL('.', import.meta.url));
/** Deterministic output: the same compiler version and flags give the same bytes. */
export const ASC_FLAGS = ['-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd'];

export function kernelSources(): string[] {
  return readdirSync(KERNELS_DIR)
    .filter((f) => f.endsWith('.as.ts'))
    .sort();
}

/** Compiles each kernel into outDir (default: beside its source); returns the .wasm paths. */
export function buildKernels(outDir = KERNELS_DIR): string[] {
  const asc = createRequire(import.meta.url).resolve('assemblyscript/bin/asc.js');
  return kernelSources().map((src) => {
    const out = join(outDir, src.replace(/\.as\.ts$/, '.wasm'));
    execFileSync(process.execPath, [asc, join(KERNELS_DIR, src), ...ASC_FLAGS, '-o', out], { stdio: 'pipe' });
    return out;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const out of buildKernels(process.argv[2])) console.log(`wrote ${out}`);
}
