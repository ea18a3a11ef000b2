/**
 * The JSON Schema (draft 2020-12) of the ledger's events, generated from the io-ts
 * codecs (EVENT_CATALOGUE and the envelope metadata), for pipelines written in other
 * languages. The generator walks the codecs; a codec it does not know is an error at
 * generation time, so no part of an event is ever described more loosely than the
 * library reads it. The published file is `schema/events.schema.json`; a test checks
 * that it equals `eventJsonSchemaText()`, and that the schema and the codecs accept
 * and reject the same values.
 *
 * The document validates one stored event as a JSON envelope
 * `{ eventId, type, data, metadata }` (`oneOf` the per-type definitions
 * `#/$defs/<Type>Event`, discriminated by a `const` type). For EventStoreDB the
 * envelope maps 1:1 onto the stored event: event id = `eventId`, event type = `type`,
 * JSON data = `data`, JSON metadata = `metadata`, in stream `run-<runId>`;
 * `#/$defs/<Type>` is the data of one type and `#/$defs/EventMetadata` the metadata.
 *
 * What the schema cannot express, and the library still checks on read: `metadata.seq`
 * equals the event's stream revision and `metadata.runId` the run of its stream;
 * JSON values nested more than 1000 levels deep are refused; the domain rules of the
 * recorder (one terminal outcome per token, and so on) are checked on write by the
 * recorder and reported as anomalies by the projections when a writer bypassed it.
 */
import type * as t from 'io-ts';
import { EVENT_CATALOGUE, EVENT_TYPES } from './catalogue';
import {
  Bool,
  Digest,
  DIGEST_PATTERN,
  Hash,
  Id,
  ID_MAX_LENGTH,
  ID_PATTERN,
  Int,
  JsonObjectC,
  JsonValue,
  NonEmptyString,
  NonNegativeInt,
  NonNegativeNumber,
  PositiveInt,
  Str,
  Timestamp,
  Uuid,
} from './codecs';
import { EventMetadata, RUN_STREAM_PREFIX } from './envelope';

export type JsonSchema = { [keyword: string]: unknown };

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';
/** The `$id` of the published document. */
export const EVENT_SCHEMA_ID = 'urn:lineage-ledger:schema:events';
/** Where the published document lives in the package. */
export const EVENT_SCHEMA_PATH = 'schema/events.schema.json';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A lowercase RFC 9562 UUID, versions 1-8, RFC variant (the `Uuid` codec: event ids). */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';
/** A SHA-256 digest in lowercase hex (the `Hash` codec). */
export const HASH_PATTERN = '^[0-9a-f]{64}$';
/**
 * An ISO-8601 date-time with an explicit offset, as the `Timestamp` codec accepts it
 * (its pattern, with the field ranges its date check enforces: month 01-12, day 01-31,
 * 00:00:00 to 23:59:59 or 24:00:00, offset hours 00-23). ASCII digits only: `[0-9]`, never `\d`,
 * which matches other digits in some languages' regex engines.
 */
export const TIMESTAMP_PATTERN =
  '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?|24:00:00(\\.0{1,9})?)(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$';

interface Named {
  readonly name: string;
  readonly schema: () => JsonSchema;
}

/** The refined scalars, by identity: a named definition, or an inline schema. */
const SCALARS = new Map<t.Mixed, Named | JsonSchema>([
  [
    Id,
    {
      name: 'Id',
      schema: () => ({
        description:
          'An entity id: 1-64 characters from A-Z a-z 0-9 _ . : -, starting with a letter or digit. The ledger generates lowercase UUIDs (version 7); callers may choose their own keys (e.g. ELSPETH node ids such as transform_upper_3f2a9c1b7d4e).',
        type: 'string',
        minLength: 1,
        maxLength: ID_MAX_LENGTH,
        pattern: ID_PATTERN,
      }),
    },
  ],
  [
    Uuid,
    {
      name: 'Uuid',
      schema: () => ({
        description: 'A full 128-bit id: a lowercase RFC 9562 UUID (versions 1-8, RFC variant; the ledger writes version 7). Event ids are always UUIDs.',
        type: 'string',
        minLength: 36,
        maxLength: 36,
        pattern: UUID_PATTERN,
      }),
    },
  ],
  [
    Hash,
    {
      name: 'Hash',
      schema: () => ({
        description: 'A SHA-256 digest as 64 lowercase hex characters, never truncated. Content hashes are taken over the RFC 8785 canonical JSON of the value.',
        type: 'string',
        minLength: 64,
        maxLength: 64,
        pattern: HASH_PATTERN,
      }),
    },
  ],
  [
    Timestamp,
    {
      name: 'Timestamp',
      schema: () => ({
        description: 'An ISO-8601 date-time with an explicit offset (Z or ±hh:mm), e.g. 2026-01-02T03:04:05.678Z. The ledger writes UTC with milliseconds and Z.',
        type: 'string',
        pattern: TIMESTAMP_PATTERN,
      }),
    },
  ],
  [
    Digest,
    {
      name: 'Digest',
      schema: () => ({
        description: 'A hex digest of 16 to 64 lowercase hex characters: the hashes ELSPETH truncates (error, schema and schema-contract hashes), kept as an imported run had them.',
        type: 'string',
        minLength: 16,
        maxLength: 64,
        pattern: DIGEST_PATTERN,
      }),
    },
  ],
  [NonEmptyString, { name: 'NonEmptyString', schema: () => ({ type: 'string', minLength: 1 }) }],
  [Str, { type: 'string' }],
  [Bool, { type: 'boolean' }],
  [NonNegativeInt, { name: 'NonNegativeInt', schema: () => ({ type: 'integer', minimum: 0, maximum: MAX_SAFE }) }],
  [PositiveInt, { name: 'PositiveInt', schema: () => ({ type: 'integer', minimum: 1, maximum: MAX_SAFE }) }],
  [Int, { name: 'Int', schema: () => ({ type: 'integer', minimum: -MAX_SAFE, maximum: MAX_SAFE }) }],
  [NonNegativeNumber, { name: 'NonNegativeNumber', schema: () => ({ type: 'number', minimum: 0, maximum: MAX_SAFE }) }],
  [
    JsonValue,
    {
      name: 'JsonValue',
      schema: () => ({
        description:
          'Any JSON value, except integers outside ±(2^53-1): write those as strings (JSON has no NaN or Infinity). Numbers with a fractional part are allowed.',
        anyOf: [
          { type: 'null' },
          { type: 'boolean' },
          { type: 'string' },
          { type: 'integer', minimum: -MAX_SAFE, maximum: MAX_SAFE },
          { type: 'number', not: { type: 'integer' } },
          { type: 'array', items: ref('JsonValue') },
          { type: 'object', additionalProperties: ref('JsonValue') },
        ],
      }),
    },
  ],
  [JsonObjectC, { name: 'JsonObject', schema: () => ({ description: 'A JSON object whose values are JsonValues.', type: 'object', additionalProperties: ref('JsonValue') }) }],
]);

function ref(name: string): JsonSchema {
  return { $ref: `#/$defs/${name}` };
}

function isNamed(x: Named | JsonSchema): x is Named {
  return typeof x.name === 'string' && typeof x.schema === 'function';
}

/** Collects named definitions; the same name for two different codecs is an error. */
class Definitions {
  /** Codecs without a JSON Schema rule become `{}` with their name as the description (request schemas), instead of an error. */
  constructor(readonly lenient = false) {}
  private readonly defs = new Map<string, JsonSchema>();
  private readonly owners = new Map<string, unknown>();

  define(name: string, owner: unknown, make: () => JsonSchema): JsonSchema {
    const existing = this.owners.get(name);
    if (existing !== undefined) {
      if (existing !== owner) throw new Error(`JSON Schema generation: two different codecs are named ${name}`);
      return ref(name);
    }
    this.owners.set(name, owner);
    this.defs.set(name, {}); // placeholder: recursive definitions refer to it
    this.defs.set(name, make());
    return ref(name);
  }

  /** Puts a description first in a definition. */
  describe(name: string, description: string): void {
    const def = this.defs.get(name);
    if (def === undefined) throw new Error(`JSON Schema generation: no definition ${name} to describe`);
    const { description: _old, ...rest } = def;
    this.defs.set(name, { description, ...rest });
  }

  /** The definitions, sorted by name (a deterministic document). */
  sorted(): Record<string, JsonSchema> {
    const out: Record<string, JsonSchema> = {};
    for (const name of [...this.defs.keys()].sort()) out[name] = this.defs.get(name)!;
    return out;
  }
}

/** The JSON Schema of one codec; named parts go to `defs`. Throws on a codec it does not know. */
function schemaOf(codec: t.Mixed, defs: Definitions, path: string): JsonSchema {
  const scalar = SCALARS.get(codec);
  if (scalar !== undefined) return isNamed(scalar) ? defs.define(scalar.name, codec, scalar.schema) : { ...scalar };
  const c = codec as t.Mixed & Partial<{ required: unknown; optional: unknown; keys: unknown; inner: unknown; item: unknown; nonEmpty: unknown; values: unknown }>;
  if (isRecord(c.required) && isRecord(c.optional) && Array.isArray(c.keys)) {
    const required = c.required as Record<string, t.Mixed>;
    const optional = c.optional as Record<string, t.Mixed>;
    return defs.define(codec.name, codec, () => {
      const properties: Record<string, JsonSchema> = {};
      for (const k of Object.keys(required)) properties[k] = schemaOf(required[k]!, defs, `${path}.${k}`);
      for (const k of Object.keys(optional)) properties[k] = schemaOf(optional[k]!, defs, `${path}.${k}`);
      const s: JsonSchema = { type: 'object' };
      if (Object.keys(required).length > 0) s.required = Object.keys(required);
      s.properties = properties;
      s.additionalProperties = false;
      return s;
    });
  }
  if (c.inner !== undefined && codec.name.endsWith(' | null')) {
    return { anyOf: [schemaOf(c.inner as t.Mixed, defs, path), { type: 'null' }] };
  }
  if (c.item !== undefined && typeof c.nonEmpty === 'boolean' && codec.name.startsWith('Array<')) {
    const s: JsonSchema = { type: 'array', items: schemaOf(c.item as t.Mixed, defs, `${path}[]`) };
    if (c.nonEmpty) s.minItems = 1;
    return s;
  }
  if (Array.isArray(c.values) && c.values.length > 0 && c.values.every((v) => typeof v === 'string')) {
    return defs.define(codec.name, codec, () => ({ type: 'string', enum: [...(c.values as string[])] }));
  }
  if (defs.lenient) return { description: `${codec.name} (checked by the server)` };
  throw new Error(`JSON Schema generation: no JSON Schema for codec ${codec.name} at ${path}; teach src/events/json-schema.ts about it`);
}

/**
 * JSON Schemas of named codecs (request bodies: the recorder's command inputs), with their shared
 * definitions; `$ref`s point into `refBase` (e.g. `#/components/schemas/`). Codecs the generator
 * has no rule for (`unknown` payloads, refinements) are described, not constrained: the server
 * checks them with the codecs themselves.
 */
export function codecJsonSchemas(named: Readonly<Record<string, t.Mixed>>, refBase: string): { roots: Record<string, JsonSchema>; defs: Record<string, JsonSchema> } {
  const defs = new Definitions(true);
  const roots: Record<string, JsonSchema> = {};
  for (const [name, codec] of Object.entries(named)) roots[name] = schemaOf(codec, defs, name);
  const rebase = (x: JsonSchema): JsonSchema => JSON.parse(JSON.stringify(x).split('"#/$defs/').join(`"${refBase}`)) as JsonSchema;
  const outDefs: Record<string, JsonSchema> = {};
  for (const [k, v] of Object.entries(defs.sorted())) outDefs[k] = rebase(v);
  const outRoots: Record<string, JsonSchema> = {};
  for (const [k, v] of Object.entries(roots)) outRoots[k] = rebase(v);
  return { roots: outRoots, defs: outDefs };
}

function isRecord(u: unknown): u is Record<string, unknown> {
  return typeof u === 'object' && u !== null && !Array.isArray(u);
}

const DESCRIPTION = [
  'One lineage-ledger event as stored: { eventId, type, data, metadata }.',
  `Each run is one stream named "${RUN_STREAM_PREFIX}<runId>"; metadata.seq is the event's 0-based revision in that stream.`,
  'EventStoreDB: append to that stream with event id = eventId, event type = type, JSON data = data, JSON metadata = metadata, expecting the stream revision you last read.',
  'Memory and SQLite stores are written through the library only.',
  'Each event type is described at schema version metadata.schemaVersion (a const per type); older versions are upcast by the library on read.',
  'Not expressible here and checked on read: seq equals the stream revision, runId matches the stream, JSON nesting at most 1000 levels.',
].join(' ');

/** Generates the JSON Schema document of every event type (deterministic: equal codecs give equal documents). */
export function eventJsonSchema(): JsonSchema {
  const defs = new Definitions();
  const metadata = schemaOf(EventMetadata, defs, 'metadata');
  const oneOf: JsonSchema[] = [];
  for (const type of EVENT_TYPES) {
    const entry = EVENT_CATALOGUE[type];
    const data = schemaOf(entry.codec as t.Mixed, defs, `${type}.data`);
    defs.describe(entry.codec.name, `The data of a ${type} event: ${entry.summary}.`);
    const eventDef = `${type}Event`;
    oneOf.push(
      defs.define(eventDef, entry, () => ({
        description: `${type} (schema version ${entry.schemaVersion}): ${entry.summary}.`,
        type: 'object',
        required: ['eventId', 'type', 'data', 'metadata'],
        properties: {
          eventId: schemaOf(Uuid, defs, `${type}.eventId`),
          type: { const: type },
          data,
          metadata: { ...metadata, type: 'object', properties: { schemaVersion: { const: entry.schemaVersion } } },
        },
        additionalProperties: false,
      })),
    );
  }
  return {
    $schema: JSON_SCHEMA_DIALECT,
    $id: EVENT_SCHEMA_ID,
    title: 'lineage-ledger event',
    description: DESCRIPTION,
    oneOf,
    $defs: defs.sorted(),
  };
}

/** The published file's text: the schema as 2-space indented JSON with a final newline. */
export function eventJsonSchemaText(): string {
  return `${JSON.stringify(eventJsonSchema(), null, 2)}\n`;
}
