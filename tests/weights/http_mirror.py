"""A real HTTP server on 127.0.0.1, in a thread, serving files from memory and counting requests;
it can also misbehave as real servers do: say nothing, trickle, or stop half-way."""

from __future__ import annotations

import collections
import http.server
import threading

#: How a file can be served badly: "silent" (the connection is accepted, nothing is ever sent),
#: "trickle" (headers, then one byte every 0.2 s), "half" (headers announcing every byte, half
#: of them, then the connection is closed).
MISBEHAVIOURS = ("silent", "trickle", "half")


class Mirror:
    """Serves {path: bytes} at http://127.0.0.1:<port>/<path>; 404 for anything else.
    `misbehave={path: one of MISBEHAVIOURS}` serves those paths badly."""

    def __init__(self, files: dict[str, bytes] | None = None, misbehave: dict[str, str] | None = None):
        self.files = dict(files or {})
        self.misbehave = dict(misbehave or {})
        self.requests: collections.Counter = collections.Counter()
        self.closing = threading.Event()
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                try:
                    self._serve()
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: as it should
                    pass

            def _serve(self):
                name = self.path.lstrip("/")
                mirror.requests[name] += 1
                body = mirror.files.get(name)
                if body is None:
                    self.send_error(404, "not on this mirror")
                    return
                mode = mirror.misbehave.get(name)
                if mode == "silent":
                    mirror.closing.wait(60)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "trickle":
                    for i in range(len(body)):
                        if mirror.closing.wait(0.2):
                            return
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                elif mode == "half":
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                else:
                    self.wfile.write(body)

            def log_message(self, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Mirror:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
