"""The network boundary of tensorflow-datasets: a prepared builder, or one line saying why not.

`tfds.load` downloads and prepares a set on first use. Without a network (an air-gapped cluster, a
firewall, a laptop on a train) that ends in a long traceback from deep inside the download code.
`prepared_builder` turns any failure to download or prepare into a `DatasetUnavailableError`
whose message is one line: the set, the folder, the cause, and what to do instead.
"""

from __future__ import annotations

import os
import socket
import urllib.parse

from keras_resnet_paper.errors import DatasetUnavailableError

__all__ = ["prepared_builder", "OFFLINE_HINT"]

#: What a user without a network can do instead (the command line's flags).
OFFLINE_HINT = "pass --data_dir (data_dir=) a folder where it is already prepared, or use --offline"


def _cause(err: BaseException) -> str:
    text = " ".join(str(err).split()) or "no message"
    return f"{type(err).__name__}: {text[:160]}{'...' if len(text) > 160 else ''}"


def _unreachable(url: str, timeout_s: float) -> str | None:
    """None if a TCP connection to `url`'s host opens within `timeout_s`, else why not."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "ftp") or not parts.hostname:
        return None  # gs://, file paths: not ours to probe
    port = parts.port or {"http": 80, "https": 443, "ftp": 21}[parts.scheme]
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as err:
        return f"cannot reach {parts.hostname}:{port} ({_cause(err)})"
    return None


def _downloads(builder) -> bool:
    """Whether `download_and_prepare` is tfds' own, i.e. not replaced by `tfds.testing.mock_data`
    (which serves generated examples and never touches the network)."""
    method = getattr(type(builder), "download_and_prepare", None)
    return not getattr(method, "__module__", "").startswith("tensorflow_datasets.testing")


def _check_reachable(name: str, builder, hint: str, where: str | None = None, timeout_s: float = 10.0) -> None:
    """Fail in seconds, not minutes of retries, when the set's download hosts cannot be reached.

    The hosts come from the set's registered download URLs (`builder.url_infos`); a set without
    them is left to tfds itself.
    """
    if getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None):
        return  # tfds itself says at once that the manual files are missing
    hosts = {}
    for url in builder.url_infos or {}:
        hosts.setdefault(urllib.parse.urlsplit(url).netloc, url)
    for url in hosts.values():
        why = _unreachable(url, timeout_s)
        if why:
            raise DatasetUnavailableError(
                f"the tensorflow-datasets set {name!r} is not prepared in {where or builder.data_dir} and its "
                f"download {why}; {hint}."
            )


def _builder(tfds, name: str, data_dir: str | None):
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as err:
        raise ValueError(f"{name!r} is not a tensorflow-datasets set ({_cause(err)}).") from None


def prepared_builder(name: str, data_dir: str | None = None, manual_dir: str | None = None, hint: str = OFFLINE_HINT):
    """The tfds builder of `name`, downloaded and prepared in `data_dir` if it is not yet.

    A set that is already prepared is only read (no network). `manual_dir` holds files a set
    cannot download itself (ImageNet's tar files). Raises `ValueError` for a name tfds does not
    know, `DatasetUnavailableError` (one line, ending with `hint`) when it cannot be prepared.
    """
    import tensorflow_datasets as tfds

    data_dir = os.path.expanduser(data_dir) if data_dir else None
    if data_dir and not os.path.exists(data_dir):  # nothing prepared there: say so, and whether it can be fetched
        builder = _builder(tfds, name, None)
        if manual_dir is None and _downloads(builder):
            _check_reachable(name, builder, hint, where=f"data_dir {data_dir} (no such folder)")
    builder = _builder(tfds, name, data_dir)
    if manual_dir is None and _downloads(builder) and not builder.is_prepared():
        _check_reachable(name, builder, hint)
    config = None
    if manual_dir is not None:
        config = tfds.download.DownloadConfig(manual_dir=os.path.expanduser(manual_dir))
    try:
        builder.download_and_prepare(download_config=config)
    except Exception as err:
        where = builder.data_dir if data_dir else f"{builder.data_dir} (the default data_dir)"
        raise DatasetUnavailableError(
            f"could not download or prepare the tensorflow-datasets set {name!r} in {where} ({_cause(err)}); {hint}."
        ) from err
    return builder
