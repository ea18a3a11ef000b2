/**
 * The README's reference sections (outcomes, events, export records, error codes),
 * rendered from the codecs and tables themselves. A test checks that the README
 * holds exactly this text between its `<!-- generated:NAME -->` markers;
 * `npm run docs` rewrites them.
 */
import type * as t from 'io-ts';
import { EVENT_CATALOGUE, EVENT_TYPES } from '../events/catalogue';
import type { StructCodec, Props } from '../events/codecs';
import { OUTCOME_TABLE, OUTCOMES } from '../events/outcomes';
import { ERROR_CODES } from '../errors';
import { VIOLATION_CODES } from '../lineage/check';
import { recordFieldNames, snakeCase } from '../export/records';
import { ENTITY_CODECS, RECORD_TYPES } from '../projections/entities';
import { ELSPETH_EXPORT_NOT_FACTS, LANDSCAPE_MAPPING, MOVED_ELSPETH_FIELDS } from '../elspeth/mapping';

function typeName(c: t.Mixed): string {
  return c.name.replace(/\|/g, '\\|');
}

function fieldList(codec: StructCodec<Props, Props>, snake: boolean): string {
  const parts: string[] = [];
  for (const k of codec.keys) {
    const c = (codec.required[k] ?? codec.optional[k])!;
    const name = snake ? snakeCase(k) : k;
    parts.push(`\`${name}\`: ${typeName(c)}${k in codec.optional ? ' (optional)' : ''}`);
  }
  return parts.join('; ');
}

export function renderOutcomes(): string {
  const lines = ['| outcome | terminal | required fields | optional fields | recorded by | meaning |', '|---|---|---|---|---|---|'];
  for (const o of OUTCOMES) {
    const r = OUTCOME_TABLE[o];
    const names = (fs: readonly string[]) => (fs.length === 0 ? '-' : fs.map((f) => `\`${snakeCase(f)}\``).join(', '));
    lines.push(`| \`${o}\` | ${r.terminal ? 'yes' : 'no'} | ${names(r.required)} | ${names(r.optional)} | \`${r.recordedBy}\` | ${r.meaning} |`);
  }
  return lines.join('\n');
}

export function renderEvents(): string {
  const lines = ['| event | version | fact | data fields |', '|---|---|---|---|'];
  for (const type of EVENT_TYPES) {
    const e = EVENT_CATALOGUE[type];
    lines.push(`| \`${type}\` | ${e.schemaVersion} | ${e.summary} | ${fieldList(e.codec as unknown as StructCodec<Props, Props>, false)} |`);
  }
  return lines.join('\n');
}

export function renderRecords(): string {
  const lines = ['| record_type | fields (besides `record_type` and `run_id`) |', '|---|---|'];
  for (const rt of RECORD_TYPES) {
    const codec = ENTITY_CODECS[rt] as unknown as StructCodec<Props, Props>;
    const fields = recordFieldNames(rt).filter((f) => f !== 'record_type' && f !== 'run_id');
    const types = new Map(codec.keys.map((k) => [snakeCase(k), typeName((codec.required[k] ?? codec.optional[k])!)]));
    lines.push(`| \`${rt}\` | ${fields.map((f) => `\`${f}\`: ${types.get(f)}`).join('; ')} |`);
  }
  return lines.join('\n');
}

export function renderErrors(): string {
  const lines = ['| code | meaning |', '|---|---|'];
  for (const [code, meaning] of Object.entries(ERROR_CODES)) lines.push(`| \`${code}\` | ${meaning} |`);
  return lines.join('\n');
}

export function renderViolations(): string {
  const lines = ['| code | meaning |', '|---|---|'];
  for (const [code, meaning] of Object.entries(VIOLATION_CODES)) lines.push(`| \`${code}\` | ${meaning} |`);
  return lines.join('\n');
}

/** How each Landscape table becomes our records (from LANDSCAPE_MAPPING, the importer's own table). */
export function renderElspethMapping(): string {
  const CONVERSIONS: Record<string, string> = { timestamp: 'naive UTC → ISO-8601 with Z', json: 'JSON text parsed', bool: '0/1 → boolean', epoch: 'epoch seconds → ISO-8601 with Z' };
  const lines = ['| Landscape table | our record | in ELSPETH\'s export | columns converted | fields derived |', '|---|---|---|---|---|'];
  for (const m of LANDSCAPE_MAPPING) {
    const converted: string[] = [];
    const derived: string[] = [];
    for (const [field, f] of Object.entries(m.fields)) {
      if (f.column === null) derived.push(`\`${field}\`: ${f.derived ?? ''}`);
      else if (f.conversion !== 'none' || f.column !== field) {
        converted.push(`\`${f.column}\`${f.column !== field ? ` → \`${field}\`` : ''}${f.conversion !== 'none' ? ` (${CONVERSIONS[f.conversion]})` : ''}`);
      }
    }
    lines.push(`| \`${m.table}\` | \`${m.record}\` | ${m.exportRecord === null ? 'left out' : `\`${m.exportRecord}\``} | ${converted.join(', ') || '-'} | ${derived.join('; ') || '-'} |`);
  }
  lines.push('');
  for (const [from, to] of Object.entries(MOVED_ELSPETH_FIELDS)) lines.push(`- ELSPETH's \`${from}\` is our \`${to.record}.${to.field}\` when ${to.when}.`);
  lines.push(`- Not facts, so not carried: the field${ELSPETH_EXPORT_NOT_FACTS.fields.length > 1 ? 's' : ''} ${ELSPETH_EXPORT_NOT_FACTS.fields.map((f) => `\`${f}\``).join(', ')} of every ELSPETH record (its HMAC) and its ${ELSPETH_EXPORT_NOT_FACTS.recordTypes.map((f) => `\`${f}\``).join(', ')} record; our export signs and closes its own way.`);
  return lines.join('\n');
}

export const GENERATED_SECTIONS: Readonly<Record<string, () => string>> = {
  violations: renderViolations,
  outcomes: renderOutcomes,
  events: renderEvents,
  records: renderRecords,
  errors: renderErrors,
  elspeth: renderElspethMapping,
};

/** Replaces every `<!-- generated:NAME -->…<!-- /generated:NAME -->` block of `text` with its rendering. */
export function updateGeneratedSections(text: string): string {
  let out = text;
  for (const [name, render] of Object.entries(GENERATED_SECTIONS)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const a = out.indexOf(open);
    const b = out.indexOf(close);
    if (a < 0 || b < a) throw new Error(`README has no ${open} ... ${close} block`);
    out = `${out.slice(0, a + open.length)}\n${render()}\n${out.slice(b)}`;
  }
  return out;
}
