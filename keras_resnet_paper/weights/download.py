"""Fetching a published file once: a base URL that a mirror can replace, a cache, a pinned hash.

- Base URL: the `base_url` argument, else the environment variable
  ``KERAS_RESNET_PAPER_WEIGHTS_URL`` (a mirror serving each file at the same path below it as its
  source does: ``resnet50-11ad3fa6.pth``, ``timm/resnet50.a1_in1k/resolve/main/model.safetensors``),
  else where the release is published.
- Cache: the `cache_dir` argument, else ``$KERAS_HOME/models``, else ``~/.keras/models``, the folder
  of `keras.utils.get_file`, so a file keras.applications already downloaded is reused offline.
  Every file is cached under its own name (timm's hub files, all ``model.safetensors``, as
  ``timm-<model>.<tag>.safetensors``).
- A cached file is used only if its hash matches the pinned one (md5, sha256, or the sha256 prefix
  of a torch.hub file name, checked as torch.hub checks it); otherwise it is fetched again. A file
  without a published hash is checked by its content when it is loaded (`releases.CONTENT_CHECK`).
  A download is written to a temporary file beside its target and moved into place only once its
  hash matches, so a failed or mismatching download leaves nothing in the cache.
- Bounded: a server that sends nothing for ``timeout`` seconds, or less than 1 KiB in any
  ``timeout`` seconds (a trickle), is given up, and so is a download not finished after
  ``deadline`` seconds. ``timeout`` is 60 s or ``$KERAS_RESNET_PAPER_DOWNLOAD_TIMEOUT``;
  ``deadline`` 3600 s or ``$KERAS_RESNET_PAPER_DOWNLOAD_DEADLINE``.
- On a terminal a download shows its progress (bytes, rate, time left) on one line of stderr;
  elsewhere (logs, tests, pipes) it is quiet.
- Any failure is a `WeightsUnavailableError` whose message is one line naming the file and URL
  and what to do instead.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import IO

from keras_resnet_paper.errors import WeightsUnavailableError
from keras_resnet_paper.weights.releases import ReleaseFile, hash_kind

__all__ = [
    "WEIGHTS_URL_ENV",
    "TIMEOUT_ENV",
    "DEADLINE_ENV",
    "cache_folder",
    "mirror_url",
    "file_digest",
    "fetch_file",
    "Progress",
]

#: Environment variable naming a mirror of the published files (a base URL).
WEIGHTS_URL_ENV = "KERAS_RESNET_PAPER_WEIGHTS_URL"
#: Environment variable overriding the download timeout (seconds).
TIMEOUT_ENV = "KERAS_RESNET_PAPER_DOWNLOAD_TIMEOUT"
TIMEOUT_S = 60.0
#: Environment variable overriding the whole download's deadline (seconds).
DEADLINE_ENV = "KERAS_RESNET_PAPER_DOWNLOAD_DEADLINE"
DEADLINE_S = 3600.0
MIN_BYTES_PER_TIMEOUT = 1024
_CHUNK = 1 << 20

log = logging.getLogger(__name__)


def cache_folder(cache_dir: str | os.PathLike | None = None) -> str:
    """`cache_dir`, else $KERAS_HOME/models, else ~/.keras/models."""
    if cache_dir is not None:
        return os.path.expanduser(os.fspath(cache_dir))
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models")


def mirror_url(default_base_url: str, base_url: str | None = None) -> str:
    """`base_url`, else $KERAS_RESNET_PAPER_WEIGHTS_URL, else `default_base_url`."""
    return base_url or os.environ.get(WEIGHTS_URL_ENV) or default_base_url


def _seconds(variable: str, default: float) -> float:
    """$`variable` (seconds, > 0, finite), else `default`; a bad value is a ValueError naming it."""
    text = os.environ.get(variable)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ValueError(f"{variable}={text!r}: expected a number of seconds > 0.")
    return value


def download_timeout() -> float:
    """$KERAS_RESNET_PAPER_DOWNLOAD_TIMEOUT, else 60 s: the longest silence, and the window in
    which at least 1 KiB must arrive."""
    return _seconds(TIMEOUT_ENV, TIMEOUT_S)


def download_deadline() -> float:
    """$KERAS_RESNET_PAPER_DOWNLOAD_DEADLINE, else 3600 s: the longest a whole download may take."""
    return _seconds(DEADLINE_ENV, DEADLINE_S)


def _algorithm(file_hash: str) -> str:
    return "md5" if hash_kind(file_hash) == "md5" else "sha256"


def _matches(digest: str, file_hash: str) -> bool:
    """The full hash, or torch.hub's check of a file-name prefix: the digest starts with it."""
    return (
        digest.startswith(file_hash.lower()) if hash_kind(file_hash) == "sha256-prefix" else digest == file_hash.lower()
    )


def file_digest(path: str, algorithm: str) -> str:
    """The hex digest of a file."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _one_line(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        text = f"HTTP {err.code} {err.reason}"
    elif isinstance(err, urllib.error.URLError):
        text = str(err.reason)
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def _what_to_do(folder: str) -> str:
    return (
        f"pass weights=PATH with a local copy of the file, copy it into {folder}, or set "
        f"{WEIGHTS_URL_ENV} to a mirror that serves it"
    )


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class Progress:
    """A download's progress on one terminal line: "<name>  12.3 MB / 97.8 MB  8.1 MB/s  11 s left".

    Redrawn at most every `interval` seconds; `close()` ends the line. Quiet without a stream.
    """

    def __init__(self, name: str, total: int | None, stream: IO[str] | None, interval: float = 0.5):
        self.name, self.total, self.stream, self.interval = name, total, stream, interval
        self.start = self.last = time.monotonic()
        self.done = 0

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.stream is not None and now - self.last >= self.interval:
            self.last = now
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.start, 1e-9)
        rate = self.done / elapsed
        of = f" / {_size(self.total)}" if self.total else ""
        left = ""
        if self.total and rate > 0 and self.done <= self.total:
            left = f"  {(self.total - self.done) / rate:.0f} s left"
        return f"Downloading {self.name}  {_size(self.done)}{of}  {_size(rate)}/s{left}"

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.line(now) + "\033[K")
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not None:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()


def _terminal() -> IO[str] | None:
    """stderr if it is a terminal (progress is shown there), else None (quiet)."""
    stream = sys.stderr
    try:
        return stream if stream is not None and stream.isatty() else None
    except (AttributeError, ValueError):
        return None


def _stream(response, out, digest, progress: Progress, timeout: float, deadline: float) -> None:
    """Copy `response` into `out` chunk by chunk (as soon as bytes arrive), giving up when less
    than 1 KiB came in the last `timeout` seconds (a trickling server) or after `deadline` seconds."""
    mark_time, mark_bytes = time.monotonic(), 0
    while chunk := response.read1(_CHUNK):
        out.write(chunk)
        digest.update(chunk)
        progress.update(len(chunk))
        now = time.monotonic()
        if now - progress.start > deadline:
            raise TimeoutError(f"not finished after {deadline:g} s ({DEADLINE_ENV})")
        if now - mark_time >= timeout:
            if progress.done - mark_bytes < MIN_BYTES_PER_TIMEOUT:
                raise TimeoutError(
                    f"stalled: {progress.done - mark_bytes} bytes in the last {now - mark_time:.0f} s "
                    f"(less than {MIN_BYTES_PER_TIMEOUT} bytes per {timeout:g} s)"
                )
            mark_time, mark_bytes = now, progress.done
    if response.length:  # http.client: bytes announced by Content-Length and never sent
        raise ConnectionError(
            f"the connection closed after {progress.done} bytes, {response.length} more were expected"
        )


def _download(url: str, folder: str, file: ReleaseFile, algorithm: str) -> tuple[str, str]:
    """Stream `url` into a temporary file in `folder`; (temporary path, digest). Removed on failure."""
    digest = hashlib.new(algorithm)
    timeout, deadline = download_timeout(), download_deadline()
    fd, part = tempfile.mkstemp(prefix=file.file_name + ".", suffix=".part", dir=folder)
    progress = None
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            progress = Progress(file.file_name, int(total) if total and total.isdigit() else None, _terminal())
            _stream(response, out, digest, progress, timeout, deadline)
    except (OSError, http.client.HTTPException, ValueError) as err:
        os.remove(part)
        raise WeightsUnavailableError(
            f"Cannot download {file.file_name} from {url} ({_one_line(err)}); {_what_to_do(folder)}."
        ) from None
    finally:
        if progress is not None:
            progress.close()
    return part, digest.hexdigest()


def _cached(target: str, file: ReleaseFile, algorithm: str) -> bool:
    """Whether the cache holds `file` (its hash matches; any file of no published hash)."""
    if not os.path.isfile(target):
        return False
    if file.file_hash is None or _matches(file_digest(target, algorithm), file.file_hash):
        return True
    log.warning("Cached %s does not match its pinned %s hash %s; fetching it again.", target, algorithm, file.file_hash)
    return False


def fetch_file(
    file: ReleaseFile, default_base_url: str, *, base_url: str | None = None, cache_dir: str | os.PathLike | None = None
) -> str:
    """The local path of `file`: from the cache if its hash matches, else downloaded and checked."""
    folder = cache_folder(cache_dir)
    target = os.path.join(folder, file.file_name)
    algorithm = "sha256" if file.file_hash is None else _algorithm(file.file_hash)
    if _cached(target, file, algorithm):
        return target
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise WeightsUnavailableError(
            f"Cannot create the weights cache {folder} ({_one_line(err)}); set KERAS_HOME to a "
            "writable folder or pass weights=PATH with a local copy."
        ) from None
    url = mirror_url(default_base_url, base_url).rstrip("/") + "/" + (file.url_path or file.file_name)
    log.info("Downloading %s to %s", url, target)
    part, got = _download(url, folder, file, algorithm)
    if file.file_hash is not None and not _matches(got, file.file_hash):
        os.remove(part)
        raise WeightsUnavailableError(
            f"The download of {file.file_name} from {url} has {algorithm} {got}, not the pinned "
            f"{file.file_hash}; nothing was cached. Try again, or {_what_to_do(folder)}."
        )
    os.replace(part, target)
    return target
