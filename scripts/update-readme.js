// Rewrites the README's generated reference sections from the built codecs (run `npm run build` first).
const fs = require('node:fs');
const path = require('node:path');
const { updateGeneratedSections } = require('../dist/src/docs/reference');
const file = path.join(__dirname, '..', 'README.md');
const before = fs.readFileSync(file, 'utf8');
const after = updateGeneratedSections(before);
if (after !== before) fs.writeFileSync(file, after);
process.stdout.write(after === before ? 'README is up to date\n' : 'README sections rewritten\n');
