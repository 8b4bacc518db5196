"""A real HTTP server on 127.0.0.1 per load balancer listener, forwarding by the listener's CURRENT actions.

Each request reads the listener's rules and default actions from moto, so ModifyListener / ModifyRule
(CodeDeploy's traffic shift) take effect on the next request. A forward goes to a healthy target of the
chosen target group (round robin), over keep-alive connections (urllib3's pool: botocore already ships
it, and a pool per target is what makes the ALB's throughput close to the target's); no healthy target
is a 503 from the load balancer, an unreachable one a 502. HTTPS listeners are served as plain HTTP
(no TLS is terminated here).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import urllib3

from gitops_harness.emulator.elb_dataplane import health, routing
from gitops_harness.emulator.elb_dataplane.metrics import MetricsRecorder

log = logging.getLogger(__name__)
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
_ELB_PAGES = {
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


def _elb_page(status: int) -> bytes:
    title = _ELB_PAGES.get(status, str(status))
    return f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n".encode()


class Forwarder:
    """What every listener server does with a request; one per data plane (one connection pool)."""

    def __init__(self, metrics: MetricsRecorder, target_timeout: float = 60.0):
        self.metrics = metrics
        self._timeout = target_timeout
        self._pools: dict[tuple[str, int], urllib3.HTTPConnectionPool] = {}  # per target: no URL parsing
        self._pools_lock = threading.Lock()
        self._turns: dict[str, itertools.count[int]] = {}

    def pool(self, address: str, port: int) -> urllib3.HTTPConnectionPool:
        found = self._pools.get((address, port))
        if found is None:
            with self._pools_lock:
                if len(self._pools) >= 256:  # tasks come and go: drop the pools of targets long gone
                    for stale in self._pools.values():
                        stale.close()
                    self._pools.clear()
                found = self._pools.setdefault(
                    (address, port),
                    urllib3.HTTPConnectionPool(
                        address, port, maxsize=32, retries=False, timeout=self._timeout
                    ),
                )
        return found

    def next_target(self, group: Any) -> tuple[str, int] | None:
        targets = health.healthy_targets(group)
        if not targets:
            return None
        turn = self._turns.setdefault(group.arn, itertools.count())
        return targets[next(turn) % len(targets)]

    def handle(self, listener_arn: str, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        listener = routing.find_listener(listener_arn)
        if listener is None:
            _reply(handler, 503, {"Content-Type": "text/html"}, _elb_page(503))
            return
        path, _, query = handler.path.partition("?")
        request = routing.Request(
            handler.command,
            path,
            query,
            {k.lower(): v for k, v in handler.headers.items()},
            handler.client_address[0],
        )
        action = routing.final_action(routing.actions_for(listener, request))
        balancer = listener.load_balancer_arn
        if action is None:
            self.metrics.record(balancer, None, 503, None, by_target=False)
            _reply(handler, 503, {"Content-Type": "text/html"}, _elb_page(503))
            return
        if action["Type"] == "fixed-response":
            config = action.get("FixedResponseConfig") or {}
            status = int(config.get("StatusCode", 200))
            self.metrics.record(balancer, None, status, None, by_target=False)
            _reply(
                handler,
                status,
                {"Content-Type": config.get("ContentType", "text/plain")},
                (config.get("MessageBody") or "").encode(),
            )
            return
        if action["Type"] == "redirect":
            self._redirect(handler, action.get("RedirectConfig") or {}, listener, path, query)
            return
        group_arn = routing.choose_target_group(action)
        group = routing.find_target_group(group_arn) if group_arn else None
        target = self.next_target(group) if group is not None else None
        if target is None:
            self.metrics.record(balancer, group_arn, 503, None, by_target=False)
            _reply(handler, 503, {"Content-Type": "text/html"}, _elb_page(503))
            return
        headers = {
            k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP and k.lower() != "host"
        }
        headers["Host"] = handler.headers.get("Host", "")
        forwarded_for = handler.headers.get("X-Forwarded-For")
        source = handler.client_address[0]
        headers["X-Forwarded-For"] = f"{forwarded_for}, {source}" if forwarded_for else source
        headers["X-Forwarded-Proto"] = listener.protocol.lower() if listener.protocol else "http"
        headers["X-Forwarded-Port"] = str(listener.port)
        started = time.perf_counter()
        try:
            answer = self.pool(*target).urlopen(
                handler.command,
                handler.path,
                body=body,
                headers=headers,
                redirect=False,
                assert_same_host=False,
                preload_content=True,
                decode_content=False,
            )
        except urllib3.exceptions.TimeoutError:
            self.metrics.record(balancer, group_arn, 504, None, by_target=False)
            _reply(handler, 504, {"Content-Type": "text/html"}, _elb_page(504))
            return
        except urllib3.exceptions.HTTPError:
            self.metrics.record(balancer, group_arn, 502, None, by_target=False)
            _reply(handler, 502, {"Content-Type": "text/html"}, _elb_page(502))
            return
        elapsed = time.perf_counter() - started
        self.metrics.record(balancer, group_arn, answer.status, elapsed, by_target=True)
        passed = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"
        }
        _reply(handler, answer.status, passed, answer.data)

    def _redirect(
        self, handler: BaseHTTPRequestHandler, config: dict[str, Any], listener: Any, path: str, query: str
    ) -> None:
        host = handler.headers.get("Host", "").rsplit(":", 1)[0]
        values = {
            "#{protocol}": (listener.protocol or "HTTP").lower(),
            "#{host}": host,
            "#{port}": str(listener.port),
            "#{path}": path.lstrip("/"),
            "#{query}": query,
        }

        def fill(text: str) -> str:
            for key, value in values.items():
                text = text.replace(key, value)
            return text

        protocol = fill(config.get("Protocol", "#{protocol}")).lower()
        location = f"{protocol}://{fill(config.get('Host', '#{host}'))}:{fill(config.get('Port', '#{port}'))}"
        location += "/" + fill(config.get("Path", "/#{path}")).lstrip("/")
        filled_query = fill(config.get("Query", "#{query}"))
        if filled_query:
            location += "?" + filled_query
        status = 301 if config.get("StatusCode") == "HTTP_301" else 302
        self.metrics.record(listener.load_balancer_arn, None, status, None, by_target=False)
        _reply(handler, status, {"Location": location}, b"")

    def close(self) -> None:
        with self._pools_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


def _reply(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
    handler.send_response_only(status)
    handler.send_header("Server", "awselb/2.0")
    handler.send_header("Date", handler.date_time_string())
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


class ListenerServer:
    def __init__(self, listener: Any, forwarder: Forwarder):
        self.listener_arn = listener.arn
        self.load_balancer_arn = listener.load_balancer_arn
        self.port = listener.port
        self.protocol = listener.protocol
        arn = self.listener_arn

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive with clients
            disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall
            server_version = "awselb/2.0"

            def _serve(self) -> None:
                try:
                    forwarder.handle(arn, self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                except Exception:  # a bug of ours: the client gets the ALB's 500, the log the traceback
                    log.exception("listener %s failed on %s %s", arn, self.command, self.path)
                    self.close_connection = True
                    _reply(self, 500, {"Content-Type": "text/html"}, _elb_page(500))

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"alb-listener-{self.port}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def describe(self) -> dict[str, Any]:
        return {
            "listenerArn": self.listener_arn,
            "loadBalancerArn": self.load_balancer_arn,
            "port": int(self.port),
            "protocol": self.protocol,
            "url": self.url,
        }
