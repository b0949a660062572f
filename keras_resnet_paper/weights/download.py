"""Fetching a published file once: a base URL that a mirror can replace, a cache, a pinned hash.

- Base URL: the `base_url` argument, else the environment variable
  ``KERAS_RESNET_PAPER_WEIGHTS_URL`` (a mirror serving the files under their published names),
  else where the release is published.
- Cache: the `cache_dir` argument, else ``$KERAS_HOME/models``, else ``~/.keras/models``, the folder
  of `keras.utils.get_file`, so a file keras.applications already downloaded is reused offline.
- A cached file is used only if its hash matches the pinned one; otherwise it is fetched again.
  A download is written to a temporary file beside its target and moved into place only once its
  hash matches, so a failed or mismatching download leaves nothing in the cache.
- Any failure is a `WeightsUnavailableError` whose message is one line naming the file and URL
  and what to do instead.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request

from keras_resnet_paper.errors import WeightsUnavailableError
from keras_resnet_paper.weights.releases import ReleaseFile

__all__ = ["WEIGHTS_URL_ENV", "cache_folder", "mirror_url", "file_digest", "fetch_file"]

#: Environment variable naming a mirror of the published files (a base URL).
WEIGHTS_URL_ENV = "KERAS_RESNET_PAPER_WEIGHTS_URL"
TIMEOUT_S = 60
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


def hash_algorithm(file_hash: str) -> str:
    """ "md5" for 32 hex digits, "sha256" for 64."""
    algorithms = {32: "md5", 64: "sha256"}
    if len(file_hash) not in algorithms:
        raise ValueError(f"file_hash={file_hash!r}: expected an md5 (32 hex digits) or sha256 (64) hash.")
    return algorithms[len(file_hash)]


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


def _download(url: str, folder: str, file: ReleaseFile) -> tuple[str, str]:
    """Stream `url` into a temporary file in `folder`; (temporary path, digest). Removed on failure."""
    digest = hashlib.new(hash_algorithm(file.file_hash))
    fd, part = tempfile.mkstemp(prefix=file.file_name + ".", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
    except (OSError, http.client.HTTPException, ValueError) as err:
        os.remove(part)
        raise WeightsUnavailableError(
            f"Cannot download {file.file_name} from {url} ({_one_line(err)}); {_what_to_do(folder)}."
        ) from None
    return part, digest.hexdigest()


def fetch_file(
    file: ReleaseFile, default_base_url: str, *, base_url: str | None = None, cache_dir: str | os.PathLike | None = None
) -> str:
    """The local path of `file`: from the cache if its hash matches, else downloaded and checked."""
    folder = cache_folder(cache_dir)
    target = os.path.join(folder, file.file_name)
    algorithm = hash_algorithm(file.file_hash)
    if os.path.isfile(target):
        if file_digest(target, algorithm) == file.file_hash.lower():
            return target
        log.warning(
            "Cached %s does not match its pinned %s hash %s; fetching it again.", target, algorithm, file.file_hash
        )
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise WeightsUnavailableError(
            f"Cannot create the weights cache {folder} ({_one_line(err)}); set KERAS_HOME to a "
            "writable folder or pass weights=PATH with a local copy."
        ) from None
    url = mirror_url(default_base_url, base_url).rstrip("/") + "/" + file.file_name
    log.info("Downloading %s to %s", url, target)
    part, got = _download(url, folder, file)
    if got != file.file_hash.lower():
        os.remove(part)
        raise WeightsUnavailableError(
            f"The download of {file.file_name} from {url} has {algorithm} {got}, not the pinned "
            f"{file.file_hash}; nothing was cached. Try again, or {_what_to_do(folder)}."
        )
    os.replace(part, target)
    return target
