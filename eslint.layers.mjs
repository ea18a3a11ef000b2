// The layers of src/, enforced by lint (`npm run lint`, run by .ci/run). Each module may import
// only the modules listed for it (and src/errors.ts, which every layer shares); anything else is
// a lint error naming the rule. Direction: cli → collector → ledger → export / lineage →
// recorder → projections → events → canonical, with the store port below the recorder and the
// adapters depending only on the port; the live subscriptions (follow) sit beside the recorder,
// over the projections and the store port, and only the ledger and above use them.

/** How each module is recognised in an import specifier (relative paths from inside src/). */
const MODULES = {
  canonical: '(^|/)canonical(/|$)',
  payloads: '(^|/)payloads(/|$)',
  events: '(^|/)events(/|$)',
  projections: '(^|/)projections(/|$)',
  'store-port': '(^|/)store/(port|url|events)$',
  'store-adapters': '(^|/)store/(sqlite|postgres|eventstoredb|memory)(/|$)',
  recorder: '(^|/)recorder(/|$)',
  subscriptions: '(^|/)subscriptions(/|$)',
  lineage: '(^|/)lineage(/|$)',
  export: '(^|/)export(/|$)',
  ledger: '(^|/)ledger$',
  index: '^\\.\\.?(/\\.\\.)*/?(index)?$',
  collector: '(^|/)collector(/|$)',
  cli: '(^|/)cli(/|$)',
  workloads: '(^|/)workloads(/|$)',
  elspeth: '(^|/)elspeth(/|$)',
  docs: '(^|/)docs(/|$)',
};

/** Which modules each layer's files may import. */
export const LAYERS = {
  canonical: { files: ['src/canonical/**'], may: [] },
  payloads: { files: ['src/payloads/**'], may: ['canonical'] },
  events: { files: ['src/events/**'], may: ['canonical'] },
  projections: { files: ['src/projections/**'], may: ['events', 'canonical', 'store-port'] },
  'store-port': { files: ['src/store/port.ts', 'src/store/url.ts', 'src/store/events.ts'], may: ['events', 'canonical'] },
  'store-adapters': { files: ['src/store/*/**', 'src/store/memory.ts'], may: ['store-port', 'events', 'canonical'] },
  recorder: { files: ['src/recorder/**'], may: ['events', 'projections', 'store-port', 'canonical', 'payloads'] },
  subscriptions: { files: ['src/subscriptions/**'], may: ['projections', 'events', 'canonical', 'store-port'] },
  lineage: { files: ['src/lineage/**'], may: ['projections', 'events', 'canonical', 'payloads'] },
  export: { files: ['src/export/**'], may: ['lineage', 'projections', 'events', 'canonical', 'payloads', 'store-port'] },
  workloads: { files: ['src/workloads/**'], may: ['ledger', 'recorder', 'events', 'canonical'] },
  docs: { files: ['src/docs/**'], may: ['events', 'projections', 'lineage', 'export', 'canonical', 'elspeth'] },
  ledger: { files: ['src/ledger.ts'], may: ['canonical', 'payloads', 'events', 'projections', 'store-port', 'store-adapters', 'recorder', 'subscriptions', 'lineage', 'export'] },
  elspeth: { files: ['src/elspeth/**'], may: ['canonical', 'payloads', 'events', 'projections', 'store-port', 'recorder', 'subscriptions', 'lineage', 'export', 'ledger'] },
  collector: { files: ['src/collector/**'], may: ['canonical', 'payloads', 'events', 'projections', 'store-port', 'recorder', 'subscriptions', 'lineage', 'export', 'ledger'] },
  cli: { files: ['src/cli/**'], may: Object.keys(MODULES).filter((m) => m !== 'index') },
};

/**
 * Imports against the direction that are tolerated while they are being moved: a file listed here
 * may also import the modules given, and each entry names its way out. The list is empty and only
 * ever shrinks: an import against the direction is moved to where the layers allow it, not listed.
 * test/docs/layers.test.ts checks that every entry matches files of src/ and is still needed.
 * @type {Array<{ files: string[], may: string[] }>}
 */
export const EXCEPTIONS = [];

function rule(layer, extra = []) {
  const may = new Set([...LAYERS[layer].may, ...extra]);
  const own = layer.startsWith('store-') ? [] : [layer];
  const banned = Object.keys(MODULES).filter((m) => !may.has(m) && !own.includes(m) && !(layer.startsWith('store-') && m === layer));
  return {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: banned.map((m) => ({
          regex: MODULES[m],
          message: `layer rule (eslint.layers.mjs): ${layer} may import only ${[...may].join(', ') || 'nothing of src/ but errors'}; not ${m}`,
        })),
      },
    ],
  };
}

/** Flat-config blocks: one per layer, then the exceptions (which replace the rule for their files). */
export function layerConfigs() {
  const blocks = Object.keys(LAYERS).map((layer) => ({ files: LAYERS[layer].files, rules: rule(layer) }));
  // (the layer test sets this to check that every exception is still needed)
  if (process.env.LINEAGE_LEDGER_LAYERS_WITHOUT_EXCEPTIONS === '1') return blocks;
  for (const ex of EXCEPTIONS) {
    for (const f of ex.files) {
      const layer = Object.keys(LAYERS).find((l) => LAYERS[l].files.some((g) => matchesGlob(f, g)));
      blocks.push({ files: [f], rules: rule(layer, ex.may) });
    }
  }
  return blocks;
}

/** Enough glob matching for the patterns above (`**` any depth, `*` one segment). */
export function matchesGlob(file, glob) {
  const re = new RegExp(`^${glob.split('**').map((part) => part.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')).join('.*')}$`);
  return re.test(file) || re.test(file.replace(/\/\*\*$/, '/x.ts'));
}
