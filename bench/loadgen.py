"""P4's HTTP load generator: a separate process, asyncio, keep-alive HTTP/1.1 connections.

    echo '{"port": 8123, "path": "/api/v1/timebank/transfers", "payees": [...],
           "clients": [{"token": "…"}, ...], "seconds": 10, "warmup": 1, "tag": "…",
           "seed": 1}' | python -m bench.loadgen

One connection per client, each a closed loop: send a transfer (its own bearer token, a fresh
``Idempotency-Key``, a random payee and amount), read the whole answer, send the next. The first
``warmup`` seconds are not counted. Prints one JSON line: answers by status in the measured
window, the 201s in the window and in all (with the warm-up: the database must hold that many),
latencies (p50, p99) of the window's 201s. Stdlib only, no Django: the generator stays light,
so that the server, not the generator, is measured.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from typing import Any


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split()[1])
    length = None
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _sep, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        return status, body
    return status, await reader.readexactly(length or 0)


async def _client(
    n: int, client: dict[str, Any], cfg: dict[str, Any], start: float, stop: float, out: dict
) -> None:
    rng = random.Random(cfg["seed"] * 1000 + n)  # noqa: S311 - workload, not security
    reader, writer = await asyncio.open_connection("127.0.0.1", cfg["port"])
    i = 0
    while True:
        now = time.perf_counter()
        if now >= stop:
            break
        i += 1
        key = f"{cfg['tag']}-{n}-{i}"
        body = json.dumps(
            {
                "payee_account": rng.choice(cfg["payees"]),
                "amount": rng.randint(1, 100),
                "memo": "P4",
            }
        ).encode()
        head = (
            f"POST {cfg['path']} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {client['token']}\r\nIdempotency-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        t0 = time.perf_counter()
        writer.write(head + body)
        await writer.drain()
        status, payload = await _read_response(reader)
        t1 = time.perf_counter()
        if status == 201:
            out["ok_all"] += 1
        if t0 >= start:
            out["status"][status] += 1
            if status == 201:
                out["latencies"].append(t1 - t0)
                out["ok"] += 1
            elif len(out["samples"]) < 3:
                out["samples"].append(f"{status}: {payload[:200].decode(errors='replace')}")
    writer.close()


async def _main(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": Counter(),
        "latencies": [],
        "ok": 0,
        "ok_all": 0,
        "samples": [],
    }
    start = time.perf_counter() + float(cfg.get("warmup", 1.0))
    stop = start + float(cfg["seconds"])
    await asyncio.gather(
        *(_client(n, c, cfg, start, stop, out) for n, c in enumerate(cfg["clients"]))
    )
    lat = sorted(out["latencies"])

    def pct(q: float) -> float:
        if not lat:
            return 0.0
        return lat[min(len(lat) - 1, max(0, -(-int(q * len(lat)) // 100) - 1))]

    return {
        "ok": out["ok"],
        "ok_all": out["ok_all"],
        "seconds": float(cfg["seconds"]),
        "status": {str(k): v for k, v in out["status"].items()},
        "p50": pct(50),
        "p99": pct(99),
        "samples": out["samples"],
    }


def main() -> None:
    cfg = json.loads(sys.stdin.read())
    result = asyncio.run(_main(cfg))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
