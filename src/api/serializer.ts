/**
 * fastify's serializer compiler with every schema it gets through serializerSchema first
 * (./response-schema.ts): unions of primitive types become `type` lists the serializer writes
 * without ajv. The route schemas themselves, which the OpenAPI document is made from, are left as
 * they are: OpenAPI 3.0 has no type lists.
 */
import type { FastifyServerOptions } from 'fastify';
import { createRequire } from 'node:module';
import { serializerSchema } from './response-schema.ts';

type SerializerFactory = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']>;

// the compiler fastify itself uses when told none (its schema controller's default), resolved from
// fastify so that it is the same copy, with the fast-json-stringify it was installed with
const requireFromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
const defaultFactory = requireFromFastify('@fastify/fast-json-stringify-compiler') as () => SerializerFactory;

/** For `Fastify({ schemaController: { compilersFactory: { buildSerializer } } })`. */
export function buildSerializer(): SerializerFactory {
  const build = defaultFactory();
  return (externalSchemas, options) => {
    // schemas added with app.addSchema, which a response schema may $ref
    const shared = externalSchemas !== null && typeof externalSchemas === 'object' ? Object.fromEntries(Object.entries(externalSchemas).map(([id, s]) => [id, serializerSchema(s)])) : externalSchemas;
    const compile = build(shared, options);
    return (route) => compile({ ...route, schema: serializerSchema(route.schema) });
  };
}
