// `npm run demo`: record the demo pipeline run into the CLI's default store (sqlite:./lineage.db,
// or $LINEAGE_LEDGER_STORE), export it signed, verify the export, and run the audit check. Stops at the first step that fails (and exits non-zero).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'src', 'cli', 'main.js');
// The same store every verb uses by default, so `npx lineage-ledger runs` afterwards finds the run.
const store = process.env.LINEAGE_LEDGER_STORE || 'sqlite:./lineage.db';

function run(args, capture = false) {
  process.stderr.write(`$ lineage-ledger ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) process.exit(r.status === null ? 1 : r.status);
  return capture ? r.stdout : '';
}

if (!fs.existsSync(cli)) {
  process.stderr.write('dist/ is missing: run `npm ci` (or `npm run build`) first\n');
  process.exit(1);
}
const runId = run(['demo', '--store', store], true).trim();
process.stdout.write(`${runId}\n`);
if (!fs.existsSync('demo-key.key.pem')) run(['keygen', '--out', 'demo-key']);
run(['export', '--store', store, '--run', runId, '--out', 'demo-export.jsonl', '--sign-key', 'demo-key.key.pem']);
run(['verify', 'demo-export.jsonl', '--public-key', 'demo-key.pub.pem', '--run', runId]);
run(['check', '--store', store, '--run', runId]);
process.stderr.write(
  `\nDone. The run is in ${store}; every verb reads it by default. Next:\n` +
    '  npx lineage-ledger runs\n' +
    `  npx lineage-ledger explain --run ${runId} --row 0\n` +
    `  npx lineage-ledger check --run ${runId} --json\n`,
);
