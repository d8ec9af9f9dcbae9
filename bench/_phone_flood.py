"""A crowd of phones on the phone page, in a process of its own, for bench/phone.py.

    python bench/_phone_flood.py PORT PATHS_FILE

One client per line of PATHS_FILE (a ticket's ``/t/<id>/<token>``), each
from its own loopback address (127.0.0.2, 127.0.0.3, …: Linux routes the
whole 127/8 block to lo), so the page's per-address limit sees 100 phones,
not one client over its budget.  Each holds the page's live stream open and
asks for the state once a second, as the page's polling fallback would.
Its own process, so the crowd's work never waits on the bench's interpreter
lock (the latency measured is the appliance's).

Driven on stdin: ``go`` (prints ``ready`` once every stream has its first
state), ``stop`` (every connection closed; ``stopped``), ``quit`` (one JSON
line of counts, then exit).
"""
from __future__ import annotations

import asyncio
import json
import sys

counts = {"polls": 0, "poll_errors": 0, "refused": 0, "events": 0, "stream_errors": 0}


async def _request(port: int, source: str, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: phone\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    return reader, writer, status


async def stream(port: int, source: str, path: str, first: asyncio.Event) -> None:
    while True:
        try:
            reader, writer, status = await _request(port, source, path + "/events")
            if status != 200:
                counts["refused" if status == 429 else "stream_errors"] += 1
                writer.close()
                await asyncio.sleep(1)
                continue
            while True:
                line = await reader.readline()
                if not line:
                    break
                if line.startswith(b"data: ") or b"\r\ndata: " in line:
                    counts["events"] += 1
                    first.set()
            writer.close()
        except (OSError, ValueError, IndexError):
            counts["stream_errors"] += 1
        await asyncio.sleep(1)


async def poll(port: int, source: str, path: str) -> None:
    while True:
        await asyncio.sleep(1)
        try:
            reader, writer, status = await _request(port, source, path + "/state")
            await reader.read()
            writer.close()
            if status == 200:
                counts["polls"] += 1
            else:
                counts["refused" if status == 429 else "poll_errors"] += 1
        except (OSError, ValueError, IndexError):
            counts["poll_errors"] += 1


async def crowd(port: int, paths: list[str]) -> list[asyncio.Task]:
    """Every phone's stream and poll, once every stream has its first state."""
    firsts, tasks = [], []
    for i, path in enumerate(paths):
        source = f"127.0.0.{i + 2}"
        first = asyncio.Event()
        firsts.append(first)
        tasks.append(asyncio.create_task(stream(port, source, path, first)))
        tasks.append(asyncio.create_task(poll(port, source, path)))
    await asyncio.wait_for(asyncio.gather(*(f.wait() for f in firsts)), 60)
    return tasks


async def main(port: int, paths: list[str]) -> None:
    """Commands on stdin: ``go`` (the crowd arrives; ``ready``), ``stop``
    (it leaves; ``stopped``), ``quit`` (the counts, then exit)."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task] = []
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "go" and not tasks:
            tasks = await crowd(port, paths)
            print("ready", flush=True)
        elif line == "stop":
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            tasks = []
            print("stopped", flush=True)
        elif line in ("quit", ""):
            break
    for t in tasks:
        t.cancel()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    port = int(sys.argv[1])
    with open(sys.argv[2]) as f:
        paths = [line.strip() for line in f if line.strip()]
    if len(paths) > 250:
        sys.exit("at most 250 clients (127.0.0.2-127.0.0.251)")
    asyncio.run(main(port, paths))
