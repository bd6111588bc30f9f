#!/usr/bin/env python3
"""Slow-client attack on dcr-local: connections held, memory, and the time a
good client waits, while attackers hold as many connections as they can.

    python3 bench/slow_clients.py PID    # bench/slow_clients.sh starts dcr-local and runs this

PID is the running dcr-local's, listening on 127.0.0.1:PORT. Environment:
ATTACKERS (2000), DURATION (20, seconds), FD_LIMIT (1024: the server's
open-file limit, the usual default, which bench/slow_clients.sh gives it;
shown only), PORT (3790).

The attackers reconnect as soon as the server drops them, each in one of
five ways (one fifth each):
  silent       connects and sends nothing
  slow-head    a request head one header line a second
  big-head     a head growing 8 KiB every 100 ms, up to 420 KiB
  slow-body    a POST declaring 60,000 bytes, sending 10 a second
  huge-length  a POST declaring 1,000,000,000,000 bytes, sending 2
Every second it samples the connections the server holds (established
sockets on its port, accepted or waiting in the backlog, from /proc/net/tcp)
and the server's resident memory (VmRSS); meanwhile a good client, one request
after another, times GET /.well-known/openid-configuration on a fresh
connection (10 s at most each). It prints the samples and a summary
(bench/slow_clients.sh adds the size of the server's log).

Not a test: CI does not run it. See docs/benchmarks.md.
"""

import asyncio
import os
import resource
import statistics
import sys
import time

ATTACKERS = int(os.environ.get("ATTACKERS", "2000"))
DURATION = float(os.environ.get("DURATION", "20"))
FD_LIMIT = int(os.environ.get("FD_LIMIT", "1024"))
PORT = int(os.environ.get("PORT", "3790"))
HOST = "127.0.0.1"
KINDS = ["silent", "slow-head", "big-head", "slow-body", "huge-length"]


def held_connections(port):
    """Established TCP sockets whose local port is the server's."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if state == "01" and int(local.split(":")[1], 16) == port:
                        count += 1
        except FileNotFoundError:
            pass
    return count


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def attacker(kind, deadline):
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, PORT), 2
            )
        except (OSError, asyncio.TimeoutError):
            await asyncio.sleep(0.1)
            continue
        closed = asyncio.ensure_future(reader.read())  # completes at EOF or reset

        async def send(data):
            writer.write(data)
            await writer.drain()

        try:
            if kind == "slow-head":
                await send(b"GET /register/x HTTP/1.1\r\nHost: x\r\n")
                while not closed.done() and time.monotonic() < deadline:
                    await asyncio.sleep(1)
                    await send(b"X-Slow: y\r\n")
            elif kind == "big-head":
                await send(b"GET / HTTP/1.1\r\nHost: x\r\n")
                sent = 0
                while not closed.done() and sent < 420 * 1024 and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    line = b"X-Big-%d: " % sent + b"a" * 8000 + b"\r\n"
                    await send(line)
                    sent += len(line)
            elif kind == "slow-body":
                await send(
                    b"POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 60000\r\n\r\n"
                )
                while not closed.done() and time.monotonic() < deadline:
                    await asyncio.sleep(1)
                    await send(b"          ")
            elif kind == "huge-length":
                await send(
                    b"POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000000000000\r\n\r\n{}"
                )
            await asyncio.wait_for(asyncio.shield(closed), max(0.1, deadline - time.monotonic()))
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            closed.cancel()
            writer.close()
        await asyncio.sleep(0.05)


FAILURES = {}


async def good_request():
    """Seconds until a fresh client has its discovery document, or None (the
    reason is counted in FAILURES)."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, PORT), 10)
        writer.write(
            b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10 - (time.monotonic() - started))
        writer.close()
        if data.startswith(b"HTTP/1.1 200"):
            return time.monotonic() - started
        reason = data[:12].decode(errors="replace") or "closed without an answer"
    except asyncio.TimeoutError:
        reason = "no answer within 10 s"
    except OSError as e:
        reason = type(e).__name__
    FAILURES[reason] = FAILURES.get(reason, 0) + 1
    return None


async def main(pid):
    idle_rss = rss_mib(pid)
    idle = await good_request()
    print(f"attackers: {ATTACKERS}, duration: {DURATION:.0f} s, server fd limit: {FD_LIMIT}")
    print(f"idle: rss {idle_rss:.1f} MiB, good request {idle * 1000:.1f} ms")
    print(f"{'t(s)':>5} {'held':>6} {'rss(MiB)':>9}")
    deadline = time.monotonic() + DURATION
    attack = [
        asyncio.ensure_future(attacker(KINDS[i % len(KINDS)], deadline))
        for i in range(ATTACKERS)
    ]
    probes = []

    async def prober():
        # Back to back: a probe that waits 10 s is one sample, not ten.
        while time.monotonic() < deadline - 1:
            probes.append(await good_request())
            await asyncio.sleep(0.2)

    probing = asyncio.ensure_future(prober())
    samples = []
    start = time.monotonic()
    while time.monotonic() < deadline - 1:
        await asyncio.sleep(1)
        held = held_connections(PORT)
        rss = rss_mib(pid)
        samples.append((held, rss))
        print(f"{time.monotonic() - start:5.1f} {held:6d} {rss:9.1f}", flush=True)
    await probing
    await asyncio.gather(*attack, return_exceptions=True)
    answered = [g for g in probes if g is not None]
    print("summary:")
    print(f"  connections held (established on the port): max {max(h for h, _ in samples)}")
    print(f"  rss: idle {idle_rss:.1f} MiB, max {max(r for _, r in samples):.1f} MiB")
    if answered:
        print(
            f"  good requests: {len(answered)}/{len(probes)} answered within 10 s, "
            f"median {statistics.median(answered) * 1000:.1f} ms, max {max(answered) * 1000:.1f} ms"
        )
    else:
        print(f"  good requests: 0/{len(probes)} answered within 10 s")
    if FAILURES:
        print(f"  failed good requests: {FAILURES}")
    after = await good_request()
    print(f"  good request after the attack: {'%.1f ms' % (after * 1000) if after else 'timeout'}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, ATTACKERS + 1024)), hard))
    asyncio.run(main(int(sys.argv[1])))
