"""Port mapping for a task process run by the emulator (on PYTHONPATH of Python tasks only).

A container binds its containerPort on every interface; here every task shares the host's network, so
a bind of a mapped port goes to the task's own loopback address and host port instead, and a connect to
localhost:<containerPort> (a container health check) reaches the same place. Nothing else changes.
GITOPS_TASK_ADDRESS=127.0.x.y  GITOPS_TASK_PORTS=8080:41234,9090:41235
"""

import os
import socket

_ADDRESS = os.environ.get("GITOPS_TASK_ADDRESS", "")
_PORTS = {}
for _pair in filter(None, os.environ.get("GITOPS_TASK_PORTS", "").split(",")):
    _container, _, _host = _pair.partition(":")
    _PORTS[int(_container)] = int(_host)
_LOCAL = {"", "0.0.0.0", "127.0.0.1", "localhost", "::", "::1"}


def _mapped(address, local_only):
    if not (_ADDRESS and isinstance(address, tuple) and len(address) >= 2):
        return address
    host, port = address[0], address[1]
    if port in _PORTS and (not local_only or host in _LOCAL):
        return (_ADDRESS, _PORTS[port])
    return address


if _ADDRESS and _PORTS:
    _bind = socket.socket.bind
    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex

    def bind(self, address):
        mapped = _mapped(address, local_only=False)
        if mapped is not address and self.family == socket.AF_INET6:
            raise OSError(f"task port {address[1]}: bind it on IPv4 (the emulator maps IPv4 only)")
        return _bind(self, mapped)

    def connect(self, address):
        return _connect(self, _mapped(address, local_only=True))

    def connect_ex(self, address):
        return _connect_ex(self, _mapped(address, local_only=True))

    socket.socket.bind = bind
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
