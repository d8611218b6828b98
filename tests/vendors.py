"""Local HTTP servers that follow the vendors' documented contracts, on loopback only.

A `VendorServer` is a real `ThreadingHTTPServer` on 127.0.0.1 and a free port: the
pull's own `httpx` client talks to it over TCP, as to the vendor. Each route is a
function of the request (method, path, query, headers, body) that answers a `Reply`, or
a `Drop` (the status line and headers of a whole reply, half its body, then the socket
closed: a connection dropped mid-page). Every request is recorded, so a test can say how
many tries a throttled page took and that no token was sent where it should not be.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Drop:
    """The headers of `reply`, half its body, then the connection closed."""

    reply: Reply


Route = Callable[[Request], Reply | Drop]


class VendorServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                return

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                server.requests.append(request)
                route = server.routes.get((self.command, parts.path))
                answer = route(request) if route else Reply(404, {"error": "no such route"})
                reply = answer.reply if isinstance(answer, Drop) else answer
                body = reply.payload()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if isinstance(answer, Drop):
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

            do_GET = do_POST = _serve  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, path: str) -> Callable[[Route], Route]:
        def register(function: Route) -> Route:
            self.routes[(method, path)] = function
            return function

        return register

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def __enter__(self) -> VendorServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Faults:
    """Scripted trouble: the next replies of a route, before its contract answers again
    (`faults.queue("calls", Reply(429))`)."""

    def __init__(self) -> None:
        self.pending: dict[str, list[Reply | Drop]] = {}

    def queue(self, key: str, *answers: Reply | Drop) -> None:
        self.pending.setdefault(key, []).extend(answers)

    def next(self, key: str) -> Reply | Drop | None:
        waiting = self.pending.get(key)
        return waiting.pop(0) if waiting else None


class TelegramBot:
    """The Bot API's `sendMessage` and `sendPhoto` for one bot token, on a `VendorServer`:
    `{"ok": true, "result": {...}}` for a known chat, HTTP 400 "chat not found" for another,
    401 for another token (the path carries it: `/bot<token>/<method>`). Each delivered
    message or photo is kept in `delivered`; `faults` scripts trouble per method."""

    def __init__(self, server: VendorServer, token: str, chats: set[str]) -> None:
        self.token, self.chats = token, chats
        self.delivered: list[tuple[str, str, dict[str, Any]]] = []
        self.faults = Faults()
        for method in ("sendMessage", "sendPhoto"):
            server.route("POST", f"/bot{token}/{method}")(self._answer(method))

    def _answer(self, method: str) -> Route:
        def answer(request: Request) -> Reply | Drop:
            fault = self.faults.next(method)
            if fault is not None:
                return fault
            fields = request.json() if method == "sendMessage" else multipart(request)
            chat = str(fields.get("chat_id"))
            if chat not in self.chats:
                return Reply(
                    400,
                    {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
                )
            self.delivered.append((method, chat, fields))
            result = {"message_id": len(self.delivered), "chat": {"id": chat}}
            return Reply(200, {"ok": True, "result": result})

        return answer


def multipart(request: Request) -> dict[str, Any]:
    """A multipart/form-data body's fields: text as str, files as bytes."""
    from email.parser import BytesParser  # noqa: PLC0415
    from email.policy import HTTP  # noqa: PLC0415

    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        fields[name] = data if part.get_filename() else data.decode()
    return fields
