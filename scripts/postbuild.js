// Marks the CLI entry point executable after `tsc` (npm links it as the `lineage-ledger` bin).
const fs = require('node:fs');
const path = require('node:path');
const bin = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (fs.existsSync(bin)) fs.chmodSync(bin, 0o755);
