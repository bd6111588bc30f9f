"""Lambda start measure: a minimal Lambda Runtime API emulator.

For each function binary, RUNS times: start the process with AWS_LAMBDA_RUNTIME_API
pointing here, hand it one API Gateway v2 event on its first
`GET /2018-06-01/runtime/invocation/next`, and record when
`POST /2018-06-01/runtime/invocation/{id}/response` arrives. Reports the time
from process start (just before fork/exec) to that answer, the status of the
HTTP response inside it, the time to its first `next` poll (the end of its
init), peak RSS (VmHWM from /proc/<pid>/status, read after
the answer, before the process is killed) and the binary's size.

usage: python3 lambda_start.py TARGET_DIR RUNS OUT_JSON
env:   AWS_ENDPOINT_URL (moto), DCR_CLIENTS_TABLE, DCR_SECRET_PREFIX, AWS_REGION,
       AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (static credentials)
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "api.bench.example"
PREFIX = "/2018-06-01/runtime"


class Emulator(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # The held `next` poll of a killed function: its connection is gone, as expected.
        pass

    def arm(self, event: dict) -> None:
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.served = False
        self.answered = threading.Event()
        self.answer_at = None
        self.next_at = None
        self.answer = None
        self.error = None
        self.release = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        srv: Emulator = self.server
        if self.path != f"{PREFIX}/invocation/next":
            return self._reply(404)
        if srv.next_at is None:
            srv.next_at = time.monotonic()
        if srv.served:
            # One invocation per process: hold the next poll until the run is over.
            srv.release.wait(30)
            return self._reply(410)
        srv.served = True
        body = json.dumps(srv.event).encode()
        deadline = int(time.time() * 1000) + 30_000
        self._reply(200, body, {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": srv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn":
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
        })

    def do_POST(self) -> None:
        srv: Emulator = self.server
        now = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        if self.path == f"{PREFIX}/invocation/{srv.request_id}/response":
            srv.answer_at, srv.answer = now, payload
        elif self.path.endswith("/error"):
            srv.answer_at, srv.error = now, payload.decode(errors="replace")
        else:
            return self._reply(404)
        self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
        srv.answered.set()


def event(method: str, path: str, route: str, body: str | None = None,
          token: str | None = None, client_id: str | None = None) -> dict:
    headers = {"host": HOST, "x-forwarded-proto": "https", "x-forwarded-for": "127.0.0.1"}
    if body is not None:
        headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    ev = {
        "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": HOST,
            "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": str(uuid.uuid4()), "routeKey": route, "stage": "$default",
            "time": "23/Nov/2026:00:00:00 +0000", "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        ev["body"] = body
    if client_id:
        ev["pathParameters"] = {"client_id": client_id}
    return ev


def vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_once(binary: str, name: str, ev: dict) -> dict:
    srv = Emulator(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.arm(ev)
    # The environment Lambda gives a function, not this machine's: its own
    # variables, the function's settings (DCR_*, the emulator endpoint, static
    # credentials) and nothing else (no SSL_CERT_DIR, proxies, HOME, ...).
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("AWS_", "DCR_")) or k in ("RUST_LOG",)}
    env.update({
        "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_REGION", "us-east-1"),
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{srv.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/23/[$LATEST]bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
    })
    t0 = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    ok = srv.answered.wait(20)
    rss = vm_hwm_kib(proc.pid)
    srv.release.set()
    proc.kill()
    _, stderr = proc.communicate()
    srv.shutdown()
    srv.server_close()
    if not ok:
        raise SystemExit(f"{name}: no answer within 20 s; stderr:\n{stderr.decode()[-2000:]}")
    if srv.error is not None:
        raise SystemExit(f"{name}: the function reported an error: {srv.error}")
    answer = json.loads(srv.answer)
    return {"ms": (srv.answer_at - t0) * 1000, "init_ms": (srv.next_at - t0) * 1000,
            "rss_kib": rss,
            "status": answer.get("statusCode"), "body": answer.get("body", "")}


def main() -> None:
    target, runs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    register_body = json.dumps({"redirect_uris": ["https://app.example.com/cb"],
                                "client_name": "Bench App"})
    clients = []
    results = {}

    def measure(pkg: str, make_event, expect: int) -> None:
        binary = os.path.join(target, pkg)
        samples = []
        for _ in range(runs):
            r = run_once(binary, pkg, make_event())
            if r["status"] != expect:
                raise SystemExit(f"{pkg}: answered {r['status']}, expected {expect}: {r['body'][:300]}")
            if pkg == "register-client":
                info = json.loads(r["body"])
                clients.append((info["client_id"], info["registration_access_token"]))
            samples.append(r)
        ms = [s["ms"] for s in samples]
        results[pkg] = {
            "init_ms_median": statistics.median(s["init_ms"] for s in samples),
            "first_invocation_ms_median": statistics.median(ms),
            "first_invocation_ms_min": min(ms), "first_invocation_ms_max": max(ms),
            "peak_rss_mib_max": max(s["rss_kib"] for s in samples) / 1024,
            "bootstrap_bytes": os.path.getsize(binary), "runs": runs,
        }
        r = results[pkg]
        print(f"{pkg:16} first answer median {r['first_invocation_ms_median']:6.1f} ms "
              f"(min {r['first_invocation_ms_min']:.1f}, max {r['first_invocation_ms_max']:.1f}; "
              f"init {r['init_ms_median']:.1f}), "
              f"peak RSS {r['peak_rss_mib_max']:.1f} MiB, bootstrap {r['bootstrap_bytes'] / 2**20:.2f} MiB",
              file=sys.stderr)

    # register first: its answers are the clients the others read, update and delete.
    measure("register-client", lambda: event(
        "POST", "/register", "POST /register", register_body), 201)
    # One extra client per delete run.
    for _ in range(runs):
        r = run_once(os.path.join(target, "register-client"), "register-client", event(
            "POST", "/register", "POST /register", register_body))
        info = json.loads(r["body"])
        clients.append((info["client_id"], info["registration_access_token"]))
    cid, tok = clients[0]
    measure("get-client", lambda: event(
        "GET", f"/register/{cid}", "GET /register/{client_id}", token=tok, client_id=cid), 200)
    put_body = json.dumps({"client_id": cid, "redirect_uris": ["https://app.example.com/new"],
                           "client_name": "Bench App"})
    measure("update-client", lambda: event(
        "PUT", f"/register/{cid}", "PUT /register/{client_id}", put_body, tok, cid), 200)
    victims = iter(clients[1:])

    def delete_event() -> dict:
        vid, vtok = next(victims)
        return event("DELETE", f"/register/{vid}", "DELETE /register/{client_id}",
                     token=vtok, client_id=vid)
    measure("delete-client", delete_event, 204)
    measure("server-metadata", lambda: event(
        "GET", "/.well-known/oauth-authorization-server",
        "GET /.well-known/oauth-authorization-server"), 200)
    with open(out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
