"""A real HTTP server on 127.0.0.1, in a thread, serving files from memory and counting requests."""

from __future__ import annotations

import collections
import http.server
import threading


class Mirror:
    """Serves {name: bytes} at http://127.0.0.1:<port>/<name>; 404 for anything else."""

    def __init__(self, files: dict[str, bytes] | None = None):
        self.files = dict(files or {})
        self.requests: collections.Counter = collections.Counter()
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                mirror.requests[name] += 1
                body = mirror.files.get(name)
                if body is None:
                    self.send_error(404, "not on this mirror")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Mirror:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
