/**
 * The fold's inverse: from a run's entities, as an export lists them, back to events whose fold
 * gives exactly those entities. Import (src/export/import.ts) rebuilds a run this way.
 *
 * Each event type's inverse sits in EVENT_FOLDS (evolve.ts) beside the code that folds it, and
 * the table is a mapped type over the catalogue: an event type without an inverse (or without a
 * statement of which other event's inverse carries what it does) does not compile. This module
 * holds what the inverses share: the decoded records they read (RunRecords) and the shape of what
 * they give back (Inverted).
 *
 * The inverses read entities (the projection's own types), not export records: the snake_case
 * record format belongs to src/export/, which turns records into entities before calling them.
 */
import type { EventDataOf, EventType } from '../events/catalogue';
import { ledgerError } from '../errors';
import type { EntityOf, RecordType, Run } from './entities';

/**
 * An event's data as an inverse writes it: every field of the event type, by name (a field added
 * to the event's codec and not to its inverse is a compile error), each value also allowed to be
 * null. The records can hold what no event writes (a completed state without an output hash);
 * the event's codec refuses such a value when the event is built, naming the record.
 */
export type DraftData<T extends EventType> = { readonly [K in keyof EventDataOf<T>]: EventDataOf<T>[K] | null };

/** One event an inverse gives back, with what it creates and what must come before and after it. */
export interface Inverted<T extends EventType> {
  readonly data: DraftData<T>;
  /** recordedAt, or null to take the previous event's. */
  readonly at: string | null;
  /** Record positions the event creates (every record is created by exactly one event). */
  readonly creates: readonly number[];
  /** The record position it changes, for an event that creates nothing (a completion, a status change): it follows that record's creation. */
  readonly changes?: number;
  /** Record positions whose creating events must come first (the entities the event names). */
  readonly needs?: readonly number[];
  /** Record positions whose creating events must come after it. */
  readonly before?: readonly number[];
}

/**
 * Where an inverse's events go in the rebuilt stream: in the body (ordered by the records they
 * create, see orderEvents in src/export/import.ts), or in the run's opening (before the body) or
 * closing (after it), in rank order there.
 */
export type Seat = 'body' | { readonly opening: number } | { readonly closing: number };

/**
 * Import's inverse of one event type:
 * - `invert`: every event of the type that the records call for;
 * - `invertRest`: the same, for a fact that takes what no other event creates (an initial token,
 *   a plain outcome); it runs after every `invert` and is told which records those created;
 * - `carriedBy`: no event of this type is rebuilt, because the export keeps only the result of
 *   what it does and that event type's inverse writes it (`note` says how).
 */
export type Inverse<T extends EventType> =
  | { readonly seat: Seat; readonly invert: (records: RunRecords) => Iterable<Inverted<T>> }
  | { readonly seat: Seat; readonly invertRest: (records: RunRecords, isCreated: (position: number) => boolean) => Iterable<Inverted<T>> }
  | { readonly carriedBy: Exclude<EventType, T>; readonly note: string };

/** Fields of an entity type whose values can key an index (ids and group ids). */
type KeyOf<R extends RecordType> = { [K in keyof EntityOf<R>]: EntityOf<R>[K] extends string | null ? K : never }[keyof EntityOf<R>] & string;

/**
 * The decoded records of one export, by position (0 is the run record), with the lookups the
 * inverses need. Indexes are built on first use and kept.
 */
export class RunRecords {
  private readonly positions = new Map<RecordType, number[]>();
  private readonly indexes = new Map<string, Map<string | null, number[]>>();
  private readonly memos = new Map<string, unknown>();

  /**
   * @param types record type of every position
   * @param entities the entity of every position (decoded by its type's entity codec)
   * @param describe how a message names a record ("record 12 (token 0190…)")
   */
  constructor(
    private readonly types: readonly RecordType[],
    private readonly entities: readonly unknown[],
    readonly describe: (position: number) => string,
  ) {
    if (types.length !== entities.length) throw new Error('RunRecords: one type per entity');
    if (types[0] !== 'run') throw new Error('RunRecords: position 0 must be the run record');
  }

  get size(): number {
    return this.types.length;
  }

  get run(): Run {
    return this.entities[0] as Run;
  }

  typeOf(position: number): RecordType {
    return this.types[position]!;
  }

  /** The entity at a position, which must be of type `rt`. */
  get<R extends RecordType>(position: number, rt: R): EntityOf<R> {
    if (this.types[position] !== rt) throw new Error(`RunRecords: record ${position} is a ${String(this.types[position])}, not a ${rt}`);
    return this.entities[position] as EntityOf<R>;
  }

  /** Positions of every record of a type, in record order. */
  of(rt: RecordType): readonly number[] {
    let list = this.positions.get(rt);
    if (list === undefined) {
      list = [];
      for (let i = 0; i < this.types.length; i++) if (this.types[i] === rt) list.push(i);
      this.positions.set(rt, list);
    }
    return list;
  }

  /** The records of type `rt` grouped by the value of `key`, groups in order of first appearance, each in record order. */
  index<R extends RecordType>(rt: R, key: KeyOf<R>): ReadonlyMap<string | null, readonly number[]> {
    const name = `${rt}.${key}`;
    let m = this.indexes.get(name);
    if (m === undefined) {
      m = new Map();
      for (const i of this.of(rt)) {
        const v = (this.entities[i] as Record<string, string | null>)[key]!;
        const l = m.get(v);
        if (l === undefined) m.set(v, [i]);
        else l.push(i);
      }
      this.indexes.set(name, m);
    }
    return m;
  }

  /** Positions of the records of type `rt` whose `key` is `value`, in record order. */
  where<R extends RecordType>(rt: R, key: KeyOf<R>, value: string): readonly number[] {
    return this.index(rt, key).get(value) ?? [];
  }

  /**
   * The record of type `rt` whose `key` is `id` (the last one, should there be several), as a
   * list of zero or one position: what an event's `needs` lists for an entity it names.
   */
  find<R extends RecordType>(rt: R, key: KeyOf<R>, id: string | null): number[] {
    if (id === null) return [];
    const l = this.where(rt, key, id);
    return l.length === 0 ? [] : [l[l.length - 1]!];
  }

  /** A value computed once per run's records (an index several inverses share). */
  memo<V>(name: string, make: () => V): V {
    if (this.memos.has(name)) return this.memos.get(name) as V;
    const v = make();
    this.memos.set(name, v);
    return v;
  }

  /** Refuses the records: IMPORT_FAILED with the message (which names the record) and details. */
  fail(message: string, details: Record<string, unknown> = {}): never {
    throw ledgerError('IMPORT_FAILED', message, details);
  }
}
