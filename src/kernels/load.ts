/**
 * Loading a committed WebAssembly kernel (see build.ts). Null where the engine lacks WebAssembly or
 * SIMD, or the file is missing: the callers then keep their JavaScript path, which gives the same numbers.
 */
import { readFileSync } from 'node:fs';

/** The part of the WebAssembly API used here (the project's TypeScript libs declare no DOM globals). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export interface KernelMemory {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
}

export const WASM_PAGE = 65536;

const modules = new Map<string, object | null>();

function compiled(name: string): object | null {
  if (!modules.has(name)) {
    let mod: object | null = null;
    try {
      const bytes = readFileSync(new URL(`./${name}.wasm`, import.meta.url));
      mod = wasm?.validate(bytes) ? new wasm.Module(bytes) : null;
    } catch {
      mod = null;
    }
    modules.set(name, mod);
  }
  return modules.get(name)!;
}

/** A fresh instance of kernel `name` (its own memory, grown to `bytes`), or null. `env` holds its imports. */
export function instantiateKernel<T extends KernelMemory>(name: string, bytes: number, env: Record<string, (...args: number[]) => number> = {}): T | null {
  const mod = compiled(name);
  if (!mod) return null;
  const exports = new wasm!.Instance(mod, { env }).exports as T;
  const have = exports.memory.buffer.byteLength;
  if (bytes > have) exports.memory.grow(Math.ceil((bytes - have) / WASM_PAGE));
  return exports;
}
