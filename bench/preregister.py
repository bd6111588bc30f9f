"""Registers N clients on an engine and writes "client_id registration_access_token" lines.

usage: python3 preregister.py BASE_URL BODY_FILE N OUT_FILE
"""

import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def register(base: str, body: bytes) -> str:
    req = urllib.request.Request(
        f"{base}/register", data=body, method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        if resp.status != 201:
            raise SystemExit(f"registration answered {resp.status}")
        info = json.load(resp)
    return f"{info['client_id']} {info['registration_access_token']}"


def main() -> None:
    base, body_file, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    body = open(body_file, "rb").read().strip()
    with ThreadPoolExecutor(8) as pool:
        lines = list(pool.map(lambda _: register(base, body), range(n)))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
