/**
 * fastify's own serializer (fast-json-stringify, the copy fastify resolves), to see what a route's
 * response schema costs it: tests only, the daemon never builds one itself.
 */
import { createRequire } from 'node:module';

type Build = (schema: object, options?: { mode?: 'debug' }) => ((value: unknown) => string) & { code?: string };
const requireFromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
const build = requireFromFastify('fast-json-stringify') as Build;
/** the ajv wrapper the generated serializers call into (fast-json-stringify's lib/validator.js) */
const Validator = requireFromFastify('fast-json-stringify/lib/validator.js') as { prototype: Record<string, ((...args: unknown[]) => unknown) | undefined> };

/** the serializer fastify builds for `schema` */
export const serializer = (schema: object): ((value: unknown) => string) => build(schema);

/**
 * Whether the serializer for `schema` asks ajv which member of an anyOf/oneOf/if a value is: ajv
 * then compiles the whole response schema on the first reply, on the event loop.
 */
export function validatesAtRunTime(schema: object): boolean {
  const { code } = build(schema, { mode: 'debug' }) as unknown as { code: string };
  // fast-json-stringify 7 calls validator.getSchemaValidator(ref), 6 validator.validate(ref, value)
  return /\bvalidator\.\w+\(/.test(code);
}

/**
 * How many times fastify's serializers asked ajv which member of a union a value is while `run`
 * ran: the first such call compiles the response schema, on the event loop.
 */
export async function validatorCalls(run: () => Promise<void>): Promise<number> {
  let calls = 0;
  // fast-json-stringify 7 calls getSchemaValidator, 6 validate
  const methods = ['getSchemaValidator', 'validate'].filter((m) => typeof Validator.prototype[m] === 'function');
  const original = methods.map((m) => Validator.prototype[m]!);
  methods.forEach((m, i) => {
    Validator.prototype[m] = function (this: unknown, ...args: unknown[]) {
      calls += 1;
      return original[i]!.apply(this, args);
    };
  });
  try {
    await run();
  } finally {
    methods.forEach((m, i) => (Validator.prototype[m] = original[i]));
  }
  return calls;
}
