"""An air-gapped machine for the journey tests' subprocesses (on PYTHONPATH, imported at start-up).

Name resolution and connections to anything but the loopback interface fail at once with the
errors a machine without a network gives (`socket.gaierror`, `ENETUNREACH`), so every download
path meets its real boundary, whatever network the machine running the tests has. Local servers
on 127.0.0.1 (the weights mirror stand-in) stay reachable.
"""

import errno
import ipaddress
import socket

_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _loopback(host) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host if not isinstance(host, bytes) else host.decode()):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (offline test machine)")
    return _getaddrinfo(host, *args, **kwargs)


def _check(address):
    if isinstance(address, tuple) and not _loopback(address[0]):
        raise OSError(errno.ENETUNREACH, "Network is unreachable (offline test machine)")


def connect(self, address):
    _check(address)
    return _connect(self, address)


def connect_ex(self, address):
    _check(address)
    return _connect_ex(self, address)


socket.getaddrinfo = getaddrinfo
socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
