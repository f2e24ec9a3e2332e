"""An asyncio HTTP service whose responses change when you reload its handlers.

Run it from this directory (it serves HTTP on --port, default 8080, and the
reload server on a free port that the command-line client and editors find
through the discovery file):

    cd examples/asyncio_service && python service.py --port 8080
    curl http://127.0.0.1:8080/hello          # Hello, hello! (v1)

Edit ``handlers.py`` (the text in ``respond``) and reload, from another terminal
in the same directory:

    python -m reload_server reload handlers.py
    curl http://127.0.0.1:8080/hello          # your new text

The reload runs on this program's own event loop (``serve(runner=loop)``),
between requests: no request ever sees half-reloaded code, and module-level
code runs on the loop's thread.  The request counter kept in ``service.py``
keeps counting across reloads.
"""

from __future__ import annotations

import argparse
import asyncio

import handlers

import reload_server

requests_served = 0


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global requests_served
    try:
        request_line = (await reader.readline()).decode("latin-1")
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # headers: not needed here
        parts = request_line.split()
        path = parts[1] if len(parts) > 1 else "/"
        requests_served += 1
        body = (handlers.respond(path, requests_served) + "\n").encode()
        writer.write(
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    # Reloads run on this loop, as plain callbacks between the app's tasks.
    host, port = reload_server.serve(0, runner=asyncio.get_running_loop())
    server = await asyncio.start_server(handle, "127.0.0.1", args.port)
    http_port = server.sockets[0].getsockname()[1]
    print(f"serving http://127.0.0.1:{http_port}/ (reload server on {host}:{port})", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
