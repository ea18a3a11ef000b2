"""A small client for the lineage-ledger HTTP collector, standard library only.

    client = LineageClient("http://127.0.0.1:8080", token="...")
    run_id = client.begin_run({"pipeline": "orders"})
    results = client.commands(run_id, [{"op": "createRow", "input": {...}}, ...])

Every command is the run handle's method name and its JSON input (see GET /v1/openapi.json).
A rejected command raises LineageError with the server's code, message, path and index; the
commands before it in the same call were applied, it and the ones after it were not.
"""
import json
import urllib.error
import urllib.request
import uuid


class LineageError(Exception):
    def __init__(self, status, error, applied=None):
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.status = status
        self.code = error.get("code")
        self.path = error.get("path")
        self.index = error.get("index")
        self.applied = applied


class LineageClient:
    def __init__(self, base_url, token=None, timeout=60):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method, route, body=None, idempotency_key=None):
        headers = {"content-type": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base_url + route, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode("utf-8")
                return text if response.headers.get_content_type() == "application/x-ndjson" else json.loads(text)
        except urllib.error.HTTPError as e:
            payload = json.loads(e.read().decode("utf-8") or "{}")
            raise LineageError(e.code, payload.get("error", {}), payload.get("applied")) from None

    def health(self):
        return self._request("GET", "/v1/health")

    def begin_run(self, config, **options):
        return self._request("POST", "/v1/runs", {"config": config, **options})["runId"]

    def commands(self, run_id, commands):
        """Applies the commands in order; one Idempotency-Key per call makes a retry safe."""
        key = str(uuid.uuid4())
        return self._request("POST", f"/v1/runs/{run_id}/commands", {"commands": commands}, idempotency_key=key)["results"]

    def export(self, run_id):
        return self._request("GET", f"/v1/runs/{run_id}/export")

    def check(self, run_id):
        return self._request("GET", f"/v1/runs/{run_id}/check")
