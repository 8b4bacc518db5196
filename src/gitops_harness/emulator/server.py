"""EmbeddedAWS: the front door on a threaded werkzeug server, with the scheduler and role clients around it.

moto keeps its state in module globals, so every EmbeddedAWS in one process shares moto's services
(our control planes are per instance). Accounts, not processes, keep tests apart.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request

from gitops_harness.emulator import ecs_tasks, elb_dataplane, lambda_runtime
from gitops_harness.emulator.clients import RoleClients
from gitops_harness.emulator.cloudformation.resource import with_runtime
from gitops_harness.emulator.controlplane import ControlPlane, Runtime
from gitops_harness.emulator.eventbridge import EventDelivery
from gitops_harness.emulator.frontdoor import FrontDoor
from gitops_harness.emulator.identity import credential_scope
from gitops_harness.emulator.moto_patches import MotoPatchSession
from gitops_harness.emulator.registry import CONTROL_PLANES, load_control_planes, signing_name_of
from gitops_harness.emulator.scheduler import Clock, Scheduler
from gitops_harness.errors import ToolError

DEFAULT_PORT = 4566
DEFAULT_REGION = "us-east-1"


def _request_handler() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietHandler(MotoRequestHandler):
        """moto's handler (it keeps S3 metadata headers with underscores), without a stderr line per
        request: the front door keeps its own request log (/_emulator/requests)."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    return QuietHandler


class EmbeddedAWS:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        state_dir: str | Path | None = None,
        time_scale: float = 1.0,
        clock: Clock | None = None,
        planes: Sequence[type[ControlPlane]] | None = None,
        strict_shapes: bool = False,
        region: str = DEFAULT_REGION,
        background_planes: bool = False,
    ):
        """`background_planes` (the registry's planes only): import them on a thread when first needed (a
        request for a plane, a git request, the health pages, an event for a plane's EventBridge target),
        so moto's services answer at once (cold start)."""
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self.region = region
        self._own_state_dir = state_dir is None
        self._state_dir_arg = Path(state_dir) if state_dir is not None else None
        self.state_dir: Path | None = None
        self._clock = clock
        self._background = background_planes and planes is None
        self._plane_classes: list[type[ControlPlane]] = (
            [] if self._background else list(planes) if planes is not None else load_control_planes()
        )
        self._loader: threading.Thread | None = None
        self._loader_lock = threading.Lock()
        self.planes_error: BaseException | None = None
        self._runtime: Runtime | None = None
        self._strict_shapes = strict_shapes
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.scheduler: Scheduler | None = None
        self.clients: RoleClients | None = None
        self.front_door: FrontDoor | None = None
        self.event_delivery: EventDelivery | None = None
        self.planes: list[ControlPlane] = []
        self.lambda_executor: lambda_runtime.LambdaExecutor | None = None
        self.moto_patches = MotoPatchSession()  # the groups of moto patches this emulator holds
        self.task_sets: ecs_tasks.TaskSetController | None = None
        self.data_plane: elb_dataplane.DataPlane | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmbeddedAWS:
        if self._server is not None:
            return self
        if "MOTO_ACCOUNT_ID" in os.environ:
            # it would override the per-request account for every moto service
            raise ToolError(
                "unset MOTO_ACCOUNT_ID: the embedded AWS takes the account from each request's access key"
            )
        if self._own_state_dir:
            self.state_dir = Path(tempfile.mkdtemp(prefix="gitops-emulator-"))
        else:
            self.state_dir = self._state_dir_arg
            self.state_dir.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        try:
            self.scheduler = Scheduler(self._clock, time_scale=self.time_scale)
            self.clients = RoleClients(lambda: self.endpoint_url, default_region=self.region)
            # EventBridge targets moto does not deliver to (other accounts' buses, pipelines), async
            self.event_delivery = EventDelivery(self.scheduler, self.clients)
            runtime = self._runtime = Runtime(
                self.scheduler,
                self.clients,
                self.state_dir,
                lambda: self.endpoint_url,  # type: ignore[arg-type]
                self.time_scale,
                event_delivery=self.event_delivery,
            )
            self.planes = [plane_class(runtime) for plane_class in self._plane_classes]
            runtime.planes.update({plane.service_name: plane for plane in self.planes})
            pending = {signing_name_of(entry) for entry in CONTROL_PLANES} if self._background else set()
            self.front_door = FrontDoor(
                self.planes,
                strict_shapes=self._strict_shapes,
                pending=pending,
                load_pending=lambda: self._start_loading(runtime),
            )
            if self._background:
                self.event_delivery.targets_ready.clear()
                self.event_delivery.load_targets = lambda: self._start_loading(runtime)
            app = self.event_delivery.install(self.front_door)
            # Lambda functions run as local processes (never in Docker), acting through this emulator;
            # moto's "lambda" patch group is taken on the first request that can create or invoke one
            self.lambda_executor = lambda_runtime.LambdaExecutor(
                lambda: self.endpoint_url,
                self.state_dir / "lambda",  # type: ignore[operator]
                self.clients,
                self.scheduler,
            )
            lambda_runtime.register(self.lambda_executor)
            self.front_door.features.add("lambda-invoke")
            # the groups every start takes (ecs_tasks, elb_dataplane) and those moto already needs
            self.moto_patches.start()
            # ALB listeners as real HTTP servers, and ECS task sets whose tasks run as local processes
            self.data_plane = elb_dataplane.start(self.clients, self.time_scale)
            self.front_door.listener_directory = self.data_plane.listeners
            self.front_door.features.add("alb-data-plane")
            self.task_sets = ecs_tasks.start(self.state_dir / "ecs", self.clients, self.time_scale)  # type: ignore[operator]
            # CloudFormation's resource models call the APIs through this emulator's front door.
            # moto's patches are installed on the first request that needs them (moto_patches.py): moto's
            # Lambda or CloudFormation alone import for ~1 s, which a run without them never pays.
            app = self._ensuring_moto_patches(with_runtime(app, self.clients, self.time_scale))
            try:
                # MotoRequestHandler keeps S3 metadata headers that contain underscores
                self._server = make_server(
                    self.host, self.port, app, threaded=True, request_handler=_request_handler()
                )
            except OSError as exc:
                raise ToolError(
                    f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc} "
                    "(pass --port 0 for a free port, or stop what uses it)"
                ) from None
            self._server.daemon_threads = True  # type: ignore[attr-defined]
            self.front_door.endpoint_url = self.endpoint_url
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="emulator-frontdoor",
                daemon=True,
            )
            self._thread.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_loading(self, runtime: Runtime) -> None:
        with self._loader_lock:
            if self._loader is None:
                self._loader = threading.Thread(
                    target=self._load_planes, args=(runtime,), name="emulator-planes", daemon=True
                )
                self._loader.start()

    def _load_planes(self, runtime: Runtime) -> None:
        """The registry's planes, imported and attached while moto already answers (background_planes)."""
        assert self.front_door is not None and self.event_delivery is not None
        try:
            planes = [plane_class(runtime) for plane_class in load_control_planes()]
            runtime.planes.update({plane.service_name: plane for plane in planes})
            self.planes = planes
            self.front_door.attach(planes)
        except BaseException as error:  # the command reports it and exits; requests wait no longer
            self.planes_error = error
            self.front_door.attach([])
        finally:
            self.event_delivery.targets_ready.set()

    def wait_for_planes(self, timeout: float = 120.0) -> list[ControlPlane]:
        """The planes, loaded now if they were not (background_planes); raises what failed to load them."""
        if self._background and self._runtime is not None:
            self._start_loading(self._runtime)
        if self._loader is not None:
            self._loader.join(timeout)
            if self._loader.is_alive():
                raise ToolError(f"the control planes did not load within {timeout:.0f}s")
        if self.planes_error is not None:
            raise ToolError(f"the control planes failed to load: {self.planes_error}") from self.planes_error
        return self.planes

    def _ensuring_moto_patches(self, app: Any) -> Any:
        def serve(environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)  # headers and query only: the body stays for the app
            scope = credential_scope(request.headers, request.args)
            self.moto_patches.ensure_for_service(
                scope.service if scope is not None else "s3"
            )  # SigV2 is S3's
            return app(environ, start_response)

        return serve

    def stop(self) -> None:
        """Stop serving, join the threads, remove the temporary state folder. Safe to call twice."""
        # The scheduler first: its jobs (builds, deployments, deliveries) call the front door, and once the
        # server is closed each of them would fail with a traceback. Then tasks (they deregister from
        # target groups), then the data plane, whose last metrics still go through the front door.
        if self.scheduler is not None:
            self.scheduler.shutdown()
        if self.task_sets is not None:
            ecs_tasks.stop(self.task_sets)
            self.task_sets = None
        if self.data_plane is not None:
            elb_dataplane.stop(self.data_plane)
            self.data_plane = None
        if self._server is not None:
            if self._thread is not None and self._thread.is_alive():
                self._server.shutdown()  # blocks until serve_forever returns, so only when it runs
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        if self._loader is not None:
            self._loader.join(30)
            self._loader = None
        if self.lambda_executor is not None:
            lambda_runtime.unregister(self.lambda_executor)
            self.lambda_executor.close()
            self.lambda_executor = None
        if self.event_delivery is not None:
            self.event_delivery.uninstall()
            self.event_delivery = None
        self.moto_patches.close()  # the last emulator to stop leaves moto as it found it
        if self._own_state_dir and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        self._server = None
        self._thread = None
        self.scheduler = None

    def listener_url(self, listener_arn: str) -> str:
        """The local URL of a load balancer listener (its ALB data plane server)."""
        url = self.data_plane.url(listener_arn) if self.data_plane is not None else None
        if url is None:
            raise ToolError(f"no listener {listener_arn} in the embedded AWS (see /_emulator/listeners)")
        return url

    def __enter__(self) -> EmbeddedAWS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
