/**
 * TypeBox builders for schemas that ajv validates with one error per field: a nullable value is
 * ajv's `nullable: true` and a string enum is one `enum` keyword (TypeBox's own Union would be an
 * anyOf, which reports three errors for one typo). The static types stay exact.
 */
import { Type, type Static, type TSchema, type TUnsafe, type SchemaOptions } from '@sinclair/typebox';

/** `T | null`. */
export function Nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  return Type.Unsafe<Static<T> | null>({ ...schema, nullable: true });
}

/** One of `values` (a string tuple, e.g. one of core/reasons.ts). */
export function StringEnum<const T extends string>(values: readonly T[], options: SchemaOptions = {}): TUnsafe<T> {
  return Type.Unsafe<T>({ ...options, type: 'string', enum: [...values] });
}
