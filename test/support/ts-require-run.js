'use strict';
/**
 * Runs a TypeScript (or JavaScript) script with the ts-require hook:
 *   node test/support/ts-require-run.js path/to/script.ts [args...]
 * Inside the script, process.argv is [node, script, ...args], as if run directly.
 */
const path = require('node:path');
require('./ts-require');

const script = process.argv[2];
if (!script) {
  process.stderr.write('usage: node test/support/ts-require-run.js <script.ts> [args...]\n');
  process.exit(2);
}
const resolved = path.resolve(script);
process.argv.splice(1, 2, resolved);
require(resolved);
