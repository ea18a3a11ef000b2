/** An export killed mid-write leaves a temporary; the next export to the same target removes it (only if its writer is dead). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeExport } from '../../src/export/bundle';
import { deterministicLedger, recordTinyRun, tempDir } from './bundle-fixtures';

function deadPid(): number {
  for (let pid = 4_000_000; pid > 100_000; pid -= 7919) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return pid;
    }
  }
  throw new Error('no free pid found');
}

test('stale temporaries of dead writers are removed; those of live writers and of other targets stay', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const dead = deadPid();
    const staleFile = path.join(dir, `.e.jsonl.${dead}.1700000000000.tmp`);
    const staleDir = path.join(dir, `.bundle.${dead}.AbC123`);
    const live = path.join(dir, `.e.jsonl.${process.ppid}.1700000000000.tmp`);
    const other = path.join(dir, `.other.jsonl.${dead}.1700000000000.tmp`);
    for (const f of [staleFile, live, other]) fs.writeFileSync(f, 'partial');
    fs.mkdirSync(staleDir);
    fs.writeFileSync(path.join(staleDir, 'records.jsonl'), 'partial');

    const ledger = await deterministicLedger();
    const runId = await recordTinyRun(ledger);
    await writeExport(ledger, runId, path.join(dir, 'e.jsonl'));
    await writeExport(ledger, runId, path.join(dir, 'bundle'), { format: 'bundle' });
    await ledger.close();

    expect(fs.existsSync(staleFile)).toBe(false);
    expect(fs.existsSync(staleDir)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.existsSync(other)).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual([path.basename(live), path.basename(other), 'bundle', 'e.jsonl'].sort());
  } finally {
    cleanup();
  }
});
