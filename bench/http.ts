/* eslint-disable @typescript-eslint/no-explicit-any -- the collector answers untyped JSON; the load script reads the few fields it needs */
/**
 * The collector under load (the `record_http` phase): the HTTP collector serving a SQLite file on
 * loopback in this process, and `clients` concurrent clients in this process recording the
 * reference-shaped pipeline of examples/python (row and token, source state, fork, two transform
 * states with a call each, coalesce, expansion into two, sink states and outcomes), `batch` rows
 * per request wave: four requests per wave, ids chosen by the client where the recorder allows.
 * Reports rows/s, requests/s, commands/s and request latency percentiles.
 */
import { randomUUID } from 'node:crypto';
import { buildCollector } from '../src/collector/server';
import { openLedger } from '../src/ledger';

export interface HttpLoadResult {
  readonly ms: number;
  readonly rows: number;
  readonly requests: number;
  readonly commands: number;
  readonly p50: number;
  readonly p99: number;
}

type Command = { op: string; input: Record<string, unknown> };

export async function httpLoad(file: string, rows: number, clients: number, batch: number): Promise<HttpLoadResult> {
  const ledger = await openLedger({ store: `sqlite:${file}` });
  const app = await buildCollector({ ledger, log: () => undefined });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const latencies: number[] = [];
  let commands = 0;
  const post = async (route: string, body: unknown): Promise<any> => {
    const t0 = process.hrtime.bigint();
    const res = await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json()) as any;
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (res.status >= 300) throw new Error(`${route}: ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
    return json;
  };
  const run = async (cmds: Command[], runId: string): Promise<any[]> => {
    commands += cmds.length;
    return (await post(`/v1/runs/${runId}/commands`, { commands: cmds })).results;
  };
  const state = (stateId: string, tokenId: string, nodeId: string, step: number): Command[] => [
    { op: 'beginNodeState', input: { stateId, tokenId, nodeId, stepIndex: step, inputData: { step } } },
    { op: 'completeNodeState', input: { stateId, status: 'completed', durationMs: 1, outputData: { step } } },
  ];
  try {
    const t0 = process.hrtime.bigint();
    const perClient = Math.ceil(rows / clients);
    await Promise.all(
      Array.from({ length: clients }, async (_, k) => {
        const runId = (await post('/v1/runs', { config: { client: k } })).runId as string;
        const [source, enrich, score, merge, sink] = Array.from({ length: 5 }, () => randomUUID());
        const node = (nodeId: string, nodeType: string): Command => ({ op: 'registerNode', input: { nodeId, pluginName: nodeType, nodeType, pluginVersion: '1', config: {} } });
        await run([node(source!, 'source'), node(enrich!, 'transform'), node(score!, 'transform'), node(merge!, 'coalesce'), node(sink!, 'sink')], runId);
        const mine = Math.max(0, Math.min(perClient, rows - k * perClient));
        for (let first = 0; first < mine; first += batch) {
          const wave = Array.from({ length: Math.min(batch, mine - first) }, (_, i) => ({ index: first + i, row: randomUUID(), token: randomUUID() }));
          const forks = (
            await run(
              wave.flatMap((w) => [
                { op: 'createRow', input: { sourceNodeId: source, rowIndex: w.index, rowId: w.row, data: { i: w.index } } },
                { op: 'createToken', input: { rowId: w.row, tokenId: w.token } },
                ...state(randomUUID(), w.token, source!, 0),
                { op: 'forkToken', input: { parentTokenId: w.token, rowId: w.row, branches: ['enrich', 'score'] } },
              ]),
              runId,
            )
          ).filter((r) => r !== null && typeof r === 'object' && 'forkGroupId' in r);
          const merged = (
            await run(
              wave.flatMap((w, i) => {
                const children = (forks[i].children as Array<{ tokenId: string }>).map((c) => c.tokenId);
                return [
                  ...children.flatMap((c, b) => {
                    const s = randomUUID();
                    return [
                      { op: 'beginNodeState', input: { stateId: s, tokenId: c, nodeId: b === 0 ? enrich : score, stepIndex: 2, inputData: {} } },
                      { op: 'recordCall', input: { stateId: s, callType: 'http', status: 'success', requestData: { i: w.index }, responseData: { ok: true }, latencyMs: 3 } },
                      { op: 'completeNodeState', input: { stateId: s, status: 'completed', durationMs: 3, outputData: {} } },
                    ];
                  }),
                  { op: 'coalesceTokens', input: { parentTokenIds: children, rowId: w.row } },
                ];
              }),
              runId,
            )
          ).filter((r) => r !== null && typeof r === 'object' && 'joinGroupId' in r);
          const expanded = await run(
            wave.map((w, i) => ({ op: 'expandToken', input: { parentTokenId: merged[i].tokenId, rowId: w.row, count: 2 } })),
            runId,
          );
          await run(
            expanded.flatMap((e) =>
              (e.children as Array<{ tokenId: string }>).flatMap((c) => [...state(randomUUID(), c.tokenId, sink!, 5), { op: 'recordTokenOutcome', input: { tokenId: c.tokenId, outcome: 'completed', sinkName: 'out' } }]),
            ),
            runId,
          );
        }
        await run([{ op: 'complete', input: { status: 'completed' } }], runId);
      }),
    );
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const sorted = [...latencies].sort((a, b) => a - b);
    const pick = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
    return { ms, rows, requests: latencies.length, commands, p50: pick(0.5), p99: pick(0.99) };
  } finally {
    await app.close();
    await ledger.close();
  }
}
