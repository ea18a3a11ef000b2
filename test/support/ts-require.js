'use strict';
/**
 * A minimal require hook for running the project's TypeScript in plain Node child
 * processes (tests that fork helpers, crash/kill harnesses), without ts-node:
 * each .ts file is transpiled with the installed `typescript` package's
 * transpileModule (no type checking) to CommonJS.
 *
 * Transpiled output is cached in os.tmpdir() under the hash of the source and the
 * compiler options, so a child process that finds every file in the cache starts
 * without loading the TypeScript compiler at all (that takes a few hundred ms).
 *
 * Usage: node -r ./test/support/ts-require.js file.ts, or require('./ts-require') first.
 * See ts-require-run.js to run a .ts script with arguments.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

const COMPILER_OPTIONS = {
  module: 1, // ts.ModuleKind.CommonJS
  target: 9, // ts.ScriptTarget.ES2022
  esModuleInterop: true,
  inlineSourceMap: true,
  isolatedModules: true,
};
const CACHE_DIR = process.env.LL_TS_REQUIRE_CACHE || path.join(os.tmpdir(), 'lineage-ledger-ts-require-cache');

let ts = null;
function typescript() {
  if (ts === null) {
    ts = require('typescript');
    if (ts.ModuleKind.CommonJS !== COMPILER_OPTIONS.module || ts.ScriptTarget.ES2022 !== COMPILER_OPTIONS.target) {
      throw new Error('ts-require: unexpected TypeScript enum values; update COMPILER_OPTIONS');
    }
  }
  return ts;
}

function transpile(source, filename) {
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify(COMPILER_OPTIONS))
    .update('\0')
    .update(filename)
    .update('\0')
    .update(source)
    .digest('hex');
  const cached = path.join(CACHE_DIR, `${key}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    // not cached yet
  }
  const output = typescript().transpileModule(source, { compilerOptions: COMPILER_OPTIONS, fileName: filename }).outputText;
  try {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${cached}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, output);
    fs.renameSync(tmp, cached); // atomic: concurrent children never read a partial file
  } catch {
    // caching is an optimisation only
  }
  return output;
}

if (!require.extensions['.ts']) {
  require.extensions['.ts'] = function compileTs(module, filename) {
    module._compile(transpile(fs.readFileSync(filename, 'utf8'), filename), filename);
  };
}

module.exports = { transpile };
