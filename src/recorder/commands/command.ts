/**
 * What a recorder command is: its input codec paired with its decision,
 * decide(state, input) → Either<LedgerError, events and result>.
 *
 * Each domain module declares its commands with `command(codec, decider)`; the table in
 * ./index collects them, and the command names, input types, results, input codecs and the
 * run handle's methods all come from that table.
 */
import type * as t from 'io-ts';
import { Either, left, right } from 'fp-ts/Either';
import { EventDataMap, EventType } from '../../events/catalogue';
import { refined } from '../../events/codecs';
import { isLedgerError, LedgerError } from '../../errors';
import type { RunState } from '../../projections/state';

export interface DecideContext {
  /** A fresh 128-bit id (UUID). */
  newId(): string;
  /** True when a payload store is configured: deciders then return the bodies to store and record their references. */
  readonly storePayloads?: boolean;
}

/** A payload body to write to the payload store before the decision's events are appended (name = SHA-256 of the bytes). */
export interface PayloadBody {
  readonly hash: string;
  readonly bytes: Buffer;
}

/** One event to append, before the envelope is added. */
export type EventDraft = { [T in EventType]: { readonly type: T; readonly data: EventDataMap[T] } }[EventType];

export interface Decision<R> {
  readonly events: EventDraft[];
  readonly result: R;
  /** Bodies to store first (only when the context stores payloads); the events reference them by hash. */
  readonly bodies?: PayloadBody[];
}

/** A token as commands return it. */
export interface TokenRef {
  readonly tokenId: string;
  readonly rowId: string;
  readonly branchName: string | null;
}

/**
 * A decider: checks a decoded input against the run's current projection and returns the
 * events to append and the caller's result, or throws the LedgerError that rejects the
 * command (the guards in ./guards throw with the right code). Every invariant the ledger
 * promises is checked before anything is appended: a rejected command leaves the store and
 * the run handle exactly as they were.
 */
export type Decider<I, R> = (state: RunState, input: I, ctx: DecideContext) => Decision<R>;

/**
 * One recorder command. `C` is its input codec, `R` its result, `A` the type its run-handle
 * method takes (the codec's type unless the command is declared with `commandTaking`).
 */
export interface Command<C extends t.Mixed, R, A = t.TypeOf<C>> {
  /** Decodes the caller's input: unknown keys rejected, the io-ts path of the first bad field reported. */
  readonly input: C;
  /** Decides the command against the run's state. Never throws a LedgerError: every rejection is a Left. */
  readonly decide: (state: RunState, input: t.TypeOf<C>, ctx: DecideContext) => Either<LedgerError, Decision<R>>;
  /** Type only (never set): what the run handle's method takes. */
  readonly argument?: A;
}

function make<C extends t.Mixed, R, A>(input: C, decider: Decider<t.TypeOf<C>, R>): Command<C, R, A> {
  return {
    input,
    decide(state, i, ctx) {
      try {
        return right(decider(state, i, ctx));
      } catch (e) {
        if (isLedgerError(e)) return left(e);
        throw e;
      }
    },
  };
}

/** A command: its input codec and its decider (whose thrown LedgerError becomes the Left). */
export function command<C extends t.Mixed, R>(input: C, decider: Decider<t.TypeOf<C>, R>): Command<C, R> {
  return make(input, decider);
}

/**
 * Like `command`, for a command whose run-handle method is typed narrower than its codec
 * decodes (recordTokenOutcome takes TokenOutcomeInput, which ties each outcome to its fields).
 * The codec still checks every call, typed or not.
 */
export function commandTaking<A>(): <C extends t.Mixed, R>(input: C, decider: Decider<t.TypeOf<C>, R>) => Command<C, R, A> {
  return (input, decider) => make(input, decider);
}

/** The decoded input a command's decider takes. */
export type InputOf<X> = X extends Command<infer C, infer _R, infer _A> ? t.TypeOf<C> : never;
/** A command's result, from its decide function's return type. */
export type ResultOf<X> = X extends { readonly decide: (...args: never[]) => Either<LedgerError, Decision<infer R>> } ? R : never;
/** What the run handle's method for a command takes. */
export type ArgumentOf<X> = X extends Command<infer _C, infer _R, infer A> ? A : never;

/**
 * The most tokens one command may create (expand children, batch output tokens, fork branches):
 * they are one event, written atomically, and an event must stay well inside what a store
 * accepts in one append (EventStoreDB: 1 MiB by default). Larger fan-outs are refused with
 * INVALID_INPUT, never truncated.
 */
export const MAX_TOKENS_PER_COMMAND = 10_000;

/** A count of tokens one command creates: an integer from `min` to MAX_TOKENS_PER_COMMAND. */
export const tokenCount = (min: 0 | 1) =>
  refined(
    min === 0 ? 'TokenCount' : 'PositiveTokenCount',
    (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u >= min && u <= MAX_TOKENS_PER_COMMAND,
    `an integer from ${min} to ${MAX_TOKENS_PER_COMMAND.toLocaleString('en-US')} (the most tokens one command may create)`,
  );

export function ev<T extends EventType>(type: T, data: EventDataMap[T]): EventDraft {
  return { type, data } as EventDraft;
}

export function one<R>(draft: EventDraft, result: R): Decision<R> {
  return { events: [draft], result };
}

export function withBodies<R>(bodies: PayloadBody[], d: Decision<R>): Decision<R> {
  return bodies.length === 0 ? d : { ...d, bodies };
}
