/**
 * The group table (src/events/outcomes.ts) agrees with the outcome table, the event catalogue
 * and the entity codecs: each kind's parent outcome is terminal and requires the kind's field,
 * its creating event exists, and tokens and outcomes carry the field.
 */
import { EVENT_TYPES } from '../../src/events/catalogue';
import { DELEGATING_OUTCOMES, GROUP_KINDS, GROUP_TABLE, groupNamed, OUTCOME_TABLE, OUTCOMES, type OutcomeField } from '../../src/events/outcomes';
import { snakeCase } from '../../src/export/records';
import { ENTITY_CODECS } from '../../src/projections/entities';

test.each(GROUP_KINDS)('%s: its parent outcome, creating event and fields fit the other tables', (kind) => {
  const g = GROUP_TABLE[kind];
  const rule = OUTCOME_TABLE[g.parentOutcome];
  expect(rule.terminal).toBe(true);
  expect(rule.required as readonly OutcomeField[]).toContain(g.tokenField);
  expect(EVENT_TYPES).toContain(g.createdBy);
  expect(g.recordField).toBe(snakeCase(g.tokenField));
  expect(ENTITY_CODECS.token.keys).toContain(g.tokenField);
  expect(ENTITY_CODECS.token_outcome.keys).toContain(g.tokenField);
});

test('the delegating outcomes are exactly the terminal outcomes that require a group field', () => {
  const byRule = OUTCOMES.filter((o) => OUTCOME_TABLE[o].terminal && GROUP_KINDS.some((k) => (OUTCOME_TABLE[o].required as readonly OutcomeField[]).includes(GROUP_TABLE[k].tokenField)));
  expect([...DELEGATING_OUTCOMES].sort()).toEqual([...byRule].sort());
});

test('groupNamed finds the one group field set, and null when none is', () => {
  const none = { forkGroupId: null, expandGroupId: null, joinGroupId: null, batchId: null };
  expect(groupNamed(none)).toBeNull();
  for (const kind of GROUP_KINDS) expect(groupNamed({ ...none, [GROUP_TABLE[kind].tokenField]: 'g1' })).toEqual({ kind, groupId: 'g1' });
});
