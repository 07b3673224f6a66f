/**
 * fastify's own serializer (fast-json-stringify, the copy fastify resolves), to see what a route's
 * response schema costs it: tests only, the daemon never builds one itself.
 */
import { createRequire } from 'node:module';

type Build = (schema: object, options?: { mode?: 'debug' }) => ((value: unknown) => string) & { code?: string };
const build = createRequire(createRequire(import.meta.url).resolve('fastify'))('fast-json-stringify') as Build;

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
