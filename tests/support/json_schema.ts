/**
 * A small JSON Schema (2020-12, as OpenAPI 3.1 uses it) validator: enough of the vocabulary to
 * check responses against the gateway's generated spec, independently of the zod schemas the spec
 * was generated from. Unknown keywords (format, example, description…) are ignored.
 */

// deno-lint-ignore no-explicit-any
type Schema = Record<string, any> | boolean;

/** Resolves `#/…` references against the document that holds the schemas. */
export interface SchemaContext {
  root: unknown;
}

/**
 * Every way `value` violates `schema`, as `path: problem` strings; empty when it is valid.
 *
 * @example
 * ```ts
 * validate({ type: "object", required: ["id"] }, {}, { root: spec }); // ["$: missing required id"]
 * ```
 */
export function validate(schema: Schema, value: unknown, context: SchemaContext): string[] {
  const errors: string[] = [];
  check(schema, value, "$", context, errors);
  return errors;
}

/** Follows a local `$ref` such as `#/components/schemas/Session`; throws if it does not resolve. */
export function resolveRef(ref: string, root: unknown): Schema {
  if (!ref.startsWith("#/")) throw new Error(`Only local $refs are supported: ${ref}`);
  let node: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (typeof node !== "object" || node === null || !(key in node)) {
      throw new Error(`Unresolvable $ref ${ref}`);
    }
    node = (node as Record<string, unknown>)[key];
  }
  return node as Schema;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function matchesType(expected: string, value: unknown): boolean {
  const actual = typeOf(value);
  return actual === expected || (expected === "number" && actual === "integer");
}

function check(
  schema: Schema,
  value: unknown,
  path: string,
  context: SchemaContext,
  errors: string[],
): void {
  if (schema === true) return;
  if (schema === false) {
    errors.push(`${path}: no value is allowed here`);
    return;
  }
  if (typeof schema.$ref === "string") {
    check(resolveRef(schema.$ref, context.root), value, path, context, errors);
  }
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => matchesType(t, value))) {
      errors.push(`${path}: expected ${types.join(" or ")}, got ${typeOf(value)}`);
      return;
    }
  }
  if (schema.enum && !schema.enum.some((option: unknown) => deepEqual(option, value))) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if ("const" in schema && !deepEqual(schema.const, value)) {
    errors.push(`${path}: expected ${JSON.stringify(schema.const)}`);
  }
  if (typeof value === "string") checkString(schema, value, path, errors);
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) {
      errors.push(`${path}: ${value} < minimum ${schema.minimum}`);
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      errors.push(`${path}: ${value} > maximum ${schema.maximum}`);
    }
  }
  if (typeOf(value) === "object") {
    checkObject(schema, value as Record<string, unknown>, path, context, errors);
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, i) => check(schema.items, item, `${path}[${i}]`, context, errors));
  }
  for (const sub of schema.allOf ?? []) check(sub, value, path, context, errors);
  if (
    schema.anyOf && !schema.anyOf.some((sub: Schema) => validate(sub, value, context).length === 0)
  ) {
    errors.push(`${path}: matches none of anyOf`);
  }
  if (schema.oneOf) {
    const matching = schema.oneOf.filter((sub: Schema) =>
      validate(sub, value, context).length === 0
    );
    if (matching.length !== 1) errors.push(`${path}: matches ${matching.length} of oneOf`);
  }
}

function checkString(
  // deno-lint-ignore no-explicit-any
  schema: Record<string, any>,
  value: string,
  path: string,
  errors: string[],
): void {
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength) {
    errors.push(`${path}: shorter than ${schema.minLength}`);
  }
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    errors.push(`${path}: longer than ${schema.maxLength}`);
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
    errors.push(`${path}: does not match ${schema.pattern}`);
  }
}

function checkObject(
  // deno-lint-ignore no-explicit-any
  schema: Record<string, any>,
  value: Record<string, unknown>,
  path: string,
  context: SchemaContext,
  errors: string[],
): void {
  for (const name of schema.required ?? []) {
    if (!(name in value)) errors.push(`${path}: missing required ${name}`);
  }
  const properties: Record<string, Schema> = schema.properties ?? {};
  for (const [name, item] of Object.entries(value)) {
    if (name in properties) {
      check(properties[name], item, `${path}.${name}`, context, errors);
    } else if (schema.additionalProperties !== undefined) {
      check(schema.additionalProperties, item, `${path}.${name}`, context, errors);
    }
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
