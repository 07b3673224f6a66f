/**
 * One TypeBox error as a sentence a client can act on. TypeBox says "Expected union value" for a
 * value that fits no member of a union (`output.size: 65`, `truncationPsi: "high"`), which names
 * the field but not what it takes; this lists the members instead.
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';

function range(s: TSchema): string {
  const lo = s.minimum ?? s.exclusiveMinimum;
  const hi = s.maximum ?? s.exclusiveMaximum;
  if (lo !== undefined && hi !== undefined) return ` from ${lo} to ${hi}`;
  if (lo !== undefined) return ` of at least ${lo}`;
  if (hi !== undefined) return ` of at most ${hi}`;
  return '';
}

/** What a schema takes, in a few words ("an integer from 16 to 8192, a multiple of 2"). */
export function describeSchema(s: TSchema): string {
  switch (s[Kind]) {
    case 'Null':
      return 'null';
    case 'Literal':
      return JSON.stringify(s.const);
    case 'Boolean':
      return 'true or false';
    case 'Integer':
    case 'Number':
      return `${s[Kind] === 'Integer' ? 'an integer' : 'a number'}${range(s)}${s.multipleOf === undefined ? '' : `, a multiple of ${s.multipleOf}`}`;
    case 'String':
      return s.minLength !== undefined && s.maxLength !== undefined ? `a string of ${s.minLength} to ${s.maxLength} characters` : 'a string';
    case 'Array':
      return 'an array';
    case 'Object':
      return 'an object';
    default:
      return typeof s.type === 'string' ? `a${/^[aeiou]/.test(s.type) ? 'n' : ''} ${s.type}` : 'a value';
  }
}

/** `PATH MESSAGE` as the render routes answer it, with a union's members spelled out. */
export function valueErrorMessage(prefix: string, e: ValueError): string {
  if (e.type === ValueErrorType.Union && Array.isArray(e.schema.anyOf)) {
    return `${prefix}${e.path} must be one of: ${(e.schema.anyOf as TSchema[]).map(describeSchema).join('; ')}`;
  }
  return `${prefix}${e.path} ${e.message}`;
}
