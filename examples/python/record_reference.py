"""Records a pipeline run through the lineage-ledger collector and prints its run id.

    python3 record_reference.py --url http://127.0.0.1:8080 [--token-file F] [--rows 200] [--batch 50]

Per source row: the row and its token, a source state, a fork into two branches, per branch a
transform state with one HTTP call, a coalesce of the branches, an expansion of the merged
token into two, and per child a sink state and its `completed` outcome. The pipeline chooses
its own node, row, token and state ids; the ids the recorder generates (fork, coalesce and
expand children) come back in the results, so each batch of rows takes four requests.
"""
import argparse
import sys
import uuid

from lineage_client import LineageClient


def new_id():
    return str(uuid.uuid4())


def node(node_id, name, node_type, determinism="deterministic"):
    return {"op": "registerNode", "input": {"nodeId": node_id, "pluginName": name, "nodeType": node_type,
                                            "pluginVersion": "1.0", "determinism": determinism, "config": {"name": name}}}


def state(state_id, token_id, node_id, step, data):
    return [
        {"op": "beginNodeState", "input": {"stateId": state_id, "tokenId": token_id, "nodeId": node_id, "stepIndex": step, "inputData": data}},
        {"op": "completeNodeState", "input": {"stateId": state_id, "status": "completed", "durationMs": 1.5, "outputData": data}},
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token-file")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    token = open(args.token_file).read().splitlines()[0].strip() if args.token_file else None
    client = LineageClient(args.url, token=token)
    assert client.health() == {"ok": True}

    run_id = client.begin_run({"pipeline": "python-reference", "rows": args.rows})
    source, enrich, score, merge, sink = (new_id() for _ in range(5))
    client.commands(run_id, [
        node(source, "csv_source", "source", "io_read"),
        node(enrich, "enrich_http", "transform", "external_call"),
        node(score, "score_http", "transform", "external_call"),
        node(merge, "merge", "coalesce"),
        node(sink, "csv_sink", "sink", "io_write"),
    ])

    for first in range(0, args.rows, args.batch):
        indexes = range(first, min(first + args.batch, args.rows))
        rows = {i: {"row": new_id(), "token": new_id()} for i in indexes}
        # 1. rows, tokens, source states, forks
        batch = []
        for i, r in rows.items():
            data = {"order_id": f"ORD-{i}", "amount": i * 2.5}
            batch += [
                {"op": "createRow", "input": {"sourceNodeId": source, "rowIndex": i, "rowId": r["row"], "data": data}},
                {"op": "createToken", "input": {"rowId": r["row"], "tokenId": r["token"]}},
                *state(new_id(), r["token"], source, 0, data),
                {"op": "forkToken", "input": {"parentTokenId": r["token"], "rowId": r["row"], "branches": ["enrich", "score"], "stepInPipeline": 1}},
            ]
        results = client.commands(run_id, batch)
        forks = [x for x in results if isinstance(x, dict) and "forkGroupId" in x]
        # 2. per branch a transform state with one call; then the coalesce
        batch = []
        for (i, r), fork in zip(rows.items(), forks):
            children = [c["tokenId"] for c in fork["children"]]
            for child, transform in zip(children, (enrich, score)):
                state_id = new_id()
                batch += [
                    {"op": "beginNodeState", "input": {"stateId": state_id, "tokenId": child, "nodeId": transform, "stepIndex": 2, "inputData": {"i": i}}},
                    {"op": "recordCall", "input": {"stateId": state_id, "callType": "http", "status": "success",
                                                   "requestData": {"url": f"https://api.example/{i}"}, "responseData": {"ok": True}, "latencyMs": 12.5}},
                    {"op": "completeNodeState", "input": {"stateId": state_id, "status": "completed", "durationMs": 13.0, "outputData": {"i": i}}},
                ]
            batch.append({"op": "coalesceTokens", "input": {"parentTokenIds": children, "rowId": r["row"], "stepInPipeline": 3}})
        results = client.commands(run_id, batch)
        merged = [x["tokenId"] for x in results if isinstance(x, dict) and "joinGroupId" in x]
        # 3. the merged token expands into two
        batch = [{"op": "expandToken", "input": {"parentTokenId": m, "rowId": r["row"], "count": 2, "stepInPipeline": 4}}
                 for m, r in zip(merged, rows.values())]
        results = client.commands(run_id, batch)
        # 4. per child a sink state and its outcome
        batch = []
        for expansion in results:
            for child in expansion["children"]:
                batch += [*state(new_id(), child["tokenId"], sink, 5, {"written": True}),
                          {"op": "recordTokenOutcome", "input": {"tokenId": child["tokenId"], "outcome": "completed", "sinkName": "csv_sink"}}]
        client.commands(run_id, batch)

    client.commands(run_id, [{"op": "complete", "input": {"status": "completed"}}])
    check = client.check(run_id)
    if not check["ok"]:
        print(f"check failed: {check['byCode']}", file=sys.stderr)
        sys.exit(1)
    print(run_id)


if __name__ == "__main__":
    main()
