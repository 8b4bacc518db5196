"""Runs Lambda functions (python3.x, zip packages) as local processes of the host's Python interpreter.

One invocation = one fresh process (forked from a server that has imported boto3 already, or
`python -I -S -u bootstrap.py` when the function bundles its own boto3) in its own process group, with the
function's environment (emulator/lambda_runtime/environment.py), its unpacked code as working directory
and first on sys.path, the event on stdin, and the outcome in a result file. stdout and stderr, merged,
are the function's log. The function's Timeout (real seconds, not time-scaled) kills the process group.

Concurrency: at most `max_parallel` executions of one function at a time (others wait their turn, in
order); Event invocations run on this executor's own worker threads, never on the request's thread.
An asynchronous invocation that fails is retried as Lambda does (MaximumRetryAttempts, default 2; one
AWS minute before the first retry, two before the second), the waits on the emulator's scheduler, so
they follow its time scale.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from gitops_harness.emulator.clients import RoleClients
from gitops_harness.emulator.lambda_runtime.code_cache import RUNTIME_PACKAGES, CodeCache, CodeError
from gitops_harness.emulator.lambda_runtime.environment import RoleSession, function_environment
from gitops_harness.emulator.lambda_runtime.forkserver import ForkServer, ForkServerError
from gitops_harness.emulator.lambda_runtime.invocation_log import InvocationLog, log_stream_name
from gitops_harness.emulator.scheduler import Scheduler

logger = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
_MAX_LOG_BYTES = 1024 * 1024  # per invocation; the rest is dropped with a note


def _function_exists(spec: FunctionSpec) -> bool:
    from moto.awslambda.models import lambda_backends

    try:
        lambda_backends[spec.account][spec.region].get_function(spec.name)
    except Exception:  # moto's UnknownFunctionException (or a backend gone with a reset)
        return False
    return True


_RETRY_DELAYS = (60.0, 120.0)  # AWS seconds before the first and the second retry of an async invocation


@dataclass(frozen=True)
class LayerCode:
    arn: str
    code_sha256: str
    zipped: bytes = field(repr=False)


@dataclass(frozen=True)
class FunctionSpec:
    """What an invocation needs of a function, copied when it is invoked."""

    account: str
    region: str
    name: str
    invoked_arn: str
    version: str  # "$LATEST" or a published version number
    runtime: str | None
    handler: str | None
    role: str
    timeout: float
    memory_size: int
    variables: dict[str, str]
    package_type: str
    code_sha256: str
    code: bytes = field(repr=False)
    layers: tuple[LayerCode, ...] = ()
    maximum_retry_attempts: int = 2  # asynchronous invocations (PutFunctionEventInvokeConfig)

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


@dataclass(frozen=True)
class InvocationResult:
    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed, as Lambda's X-Amz-Function-Error
    log_tail: bytes
    executed_version: str


class UnrunnableFunction(Exception):
    """The function cannot run here at all: an AWS error code and message for the Invoke caller."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class LambdaExecutor:
    def __init__(
        self,
        endpoint_url: Callable[[], str],
        cache_root: Path,
        clients: RoleClients,
        scheduler: Scheduler,
        *,
        python: str = sys.executable,
        max_parallel: int = 4,
        event_workers: int = 4,
        use_fork_server: bool = True,
    ):
        self._endpoint_url = endpoint_url
        self._cache = CodeCache(cache_root)
        self._clients = clients
        self._scheduler = scheduler
        self._python = python
        self._max_parallel = max_parallel
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, str, str], threading.BoundedSemaphore] = {}
        self._running: set[FunctionProcess] = set()
        self._use_fork_server = use_fork_server
        self._forks: ForkServer | None = None
        self._events = ThreadPoolExecutor(max_workers=event_workers, thread_name_prefix="lambda-event")
        self._closed = False

    # ------------------------------------------------------------------ API

    def check(self, spec: FunctionSpec) -> None:
        """Raise UnrunnableFunction when this executor cannot run the function at all."""
        if spec.package_type == "Image":
            raise UnrunnableFunction(
                "InvalidRuntimeException",
                f"Function {spec.name} is a container image (PackageType Image): the embedded AWS runs "
                "zip packages of python3.x functions only",
                502,
            )
        if not (spec.runtime or "").startswith("python3."):
            raise UnrunnableFunction(
                "InvalidRuntimeException",
                f"The runtime {spec.runtime or '(none)'} of function {spec.name} is not supported: the "
                f"embedded AWS runs python3.x functions only, on the host's Python "
                f"{sys.version_info.major}.{sys.version_info.minor}",
                502,
            )
        if not spec.handler:
            raise UnrunnableFunction(
                "InvalidParameterValueException", f"Function {spec.name} has no Handler configured"
            )

    def invoke(self, spec: FunctionSpec, event: bytes, request_id: str | None = None) -> InvocationResult:
        """Run the function once and wait for it (RequestResponse)."""
        self.check(spec)
        prepared = self._prepare(spec)
        with self._slot(spec):
            return self._run(spec, event, request_id or str(uuid.uuid4()), *prepared)

    def invoke_async(self, spec: FunctionSpec, event: bytes) -> str:
        """Queue one run (Event invocation, or an asynchronous source such as SNS); returns at once with
        the request id Lambda accepted the event under (its 202 answer's x-amzn-RequestId)."""
        request_id = str(uuid.uuid4())
        self._submit(spec, event, 1, request_id)
        return request_id

    def prepare_runtime(self, spec: FunctionSpec) -> None:
        """Start the fork server in the background for a python3.x function that was just created, so its
        first invocation does not wait for boto3's import."""
        if self._closed or not self._use_fork_server or not (spec.runtime or "").startswith("python3."):
            return
        forks = self._fork_server()

        def start() -> None:
            try:
                forks.ensure_running()
            except ForkServerError as exc:
                logger.warning("%s", exc)

        threading.Thread(target=start, name="lambda-fork-server-start", daemon=True).start()

    def close(self) -> None:
        """Drop queued Event invocations and kill running functions (the emulator is stopping)."""
        self._closed = True
        self._events.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            running = list(self._running)
        for process in running:
            process.kill()
        with self._lock:
            forks, self._forks = self._forks, None
        if forks is not None:
            forks.close()

    # ------------------------------------------------------------------ internals

    def _submit(self, spec: FunctionSpec, event: bytes, attempt: int, request_id: str) -> None:
        if self._closed:
            raise UnrunnableFunction("ServiceException", "the embedded AWS is stopping", 500)
        self._events.submit(self._run_in_background, spec, event, attempt, request_id)

    def _run_in_background(self, spec: FunctionSpec, event: bytes, attempt: int, request_id: str) -> None:
        if not _function_exists(spec):  # Lambda drops the queued events of a deleted function
            logger.info("asynchronous invocation of %s dropped: the function was deleted", spec.name)
            return
        try:
            # a retry keeps the request id, as on AWS
            result = self.invoke(spec, event, request_id)
        except UnrunnableFunction as exc:
            logger.warning("asynchronous invocation of %s not run: %s", spec.name, exc.message)
            refusal = InvocationLog(str(uuid.uuid4()), spec.version)
            refusal.add(f"{exc.code}: {exc.message}")
            refusal.store(spec.account, spec.region, spec.log_group, log_stream_name(spec.version))
        except Exception:
            logger.exception("asynchronous invocation of %s failed", spec.name)
        else:
            if result.function_error:
                retries_left = min(spec.maximum_retry_attempts, len(_RETRY_DELAYS)) - attempt + 1
                logger.info(
                    "asynchronous invocation of %s failed (attempt %d, %d retries left): %s",
                    spec.name,
                    attempt,
                    max(retries_left, 0),
                    result.payload[:500],
                )
                if retries_left > 0 and not self._closed:
                    with contextlib.suppress(RuntimeError):  # the scheduler is shutting down
                        self._scheduler.spawn(
                            self._submit,
                            spec,
                            event,
                            attempt + 1,
                            request_id,
                            name=f"lambda-retry-{spec.name}",
                            delay=_RETRY_DELAYS[attempt - 1],
                        )

    def _slot(self, spec: FunctionSpec) -> threading.BoundedSemaphore:
        key = (spec.account, spec.region, spec.name)
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = threading.BoundedSemaphore(self._max_parallel)
            return slot

    def _prepare(self, spec: FunctionSpec) -> tuple[Path, list[Path], RoleSession]:
        try:
            code_dir = self._cache.function_code(
                spec.account, spec.region, spec.name, spec.code_sha256, spec.code
            )
            layer_dirs = [
                self._cache.layer(layer.arn, layer.code_sha256, layer.zipped) for layer in spec.layers
            ]
        except CodeError as exc:
            raise UnrunnableFunction("InvalidZipFileException", str(exc), 502) from None
        try:
            # the session is named after the function, as Lambda names it (STS wants at least 2 characters)
            session = spec.name if len(spec.name) >= 2 else f"{spec.name}_"
            answer = self._clients.role_credentials(spec.role, spec.account, session)
        except Exception as exc:  # AccessDenied from the trust policy, a malformed ARN...
            raise UnrunnableFunction(
                "InvalidParameterValueException",
                f"The role defined for the function cannot be assumed by Lambda: {spec.role}: {exc}",
            ) from None
        credentials = RoleSession(answer.access_key, answer.secret_key, answer.session_token)
        return code_dir, layer_dirs, credentials

    def _run(
        self,
        spec: FunctionSpec,
        event: bytes,
        request_id: str,
        code_dir: Path,
        layer_dirs: list[Path],
        credentials: RoleSession,
    ) -> InvocationResult:
        stream = log_stream_name(spec.version)
        log = InvocationLog(request_id, spec.version)
        sys_path = [str(code_dir)]
        for layer in layer_dirs:  # Lambda's /opt/python and /opt/python/lib/python3.x/site-packages
            python_dir = layer / "python"
            sys_path += [str(python_dir), str(python_dir / "lib" / f"python{_minor()}" / "site-packages")]
        sys_path.append(str(self._cache.runtime_packages()))
        env = function_environment(
            variables=spec.variables,
            function_name=spec.name,
            function_version=spec.version,
            memory_size=spec.memory_size,
            region=spec.region,
            handler=spec.handler or "",
            runtime=spec.runtime or "",
            task_root=str(code_dir),
            log_group=spec.log_group,
            log_stream=stream,
            credentials=credentials,
            endpoint_url=self._endpoint_url(),
        )
        with tempfile.TemporaryDirectory(prefix="lambda-invocation-") as scratch:
            result_path = Path(scratch) / "result.json"
            child_spec = {
                "handler": spec.handler,
                "sys_path": sys_path,
                "result_path": str(result_path),
                "function_name": spec.name,
                "function_version": spec.version,
                "invoked_function_arn": spec.invoked_arn,
                "memory_limit_in_mb": spec.memory_size,
                "aws_request_id": request_id,
                "log_group_name": spec.log_group,
                "log_stream_name": stream,
                "deadline_ms": 0,  # set when the process starts
            }
            log.start()
            timed_out, return_code, elapsed = self._execute(
                child_spec, env, code_dir, layer_dirs, event, spec.timeout, log
            )
            outcome = _read_outcome(result_path)
        if timed_out:
            error: dict[str, Any] | None = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {elapsed:.2f} seconds",
            }
        elif outcome is None:
            status = (
                f"signal: {signal.Signals(-return_code).name}"
                if return_code < 0
                else f"exit status {return_code}"
            )
            error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {status}",
            }
            log.add(error["errorMessage"] + " Runtime.ExitError")
        else:
            error = outcome.get("error")
        duration_ms = outcome.get("duration_ms", elapsed * 1000) if outcome else elapsed * 1000
        log.finish(
            duration_ms,
            spec.memory_size,
            outcome.get("max_memory_mb") if outcome else None,
            outcome.get("init_ms") if outcome else None,
        )
        if timed_out:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            log.add(f"{stamp} {request_id} Task timed out after {elapsed:.2f} seconds")
        log.store(spec.account, spec.region, spec.log_group, stream)
        if error is not None:
            payload = json.dumps(error).encode("utf-8")
        else:
            payload = str(outcome["payload"]).encode("utf-8")  # type: ignore[index]
        return InvocationResult(payload, "Unhandled" if error is not None else None, log.tail(), spec.version)

    def _execute(
        self,
        child_spec: dict[str, Any],
        env: dict[str, str],
        code_dir: Path,
        layer_dirs: list[Path],
        event: bytes,
        timeout: float,
        log: InvocationLog,
    ) -> tuple[bool, int, float]:
        """Run one process to its end or its timeout: (timed out, exit code, seconds since it started)."""
        if self._closed:
            raise UnrunnableFunction("ServiceException", "the embedded AWS is stopping", 500)
        stdin_read, stdin_write = os.pipe()
        output_read, output_write = os.pipe()
        try:
            forks = self._ready_fork_server(code_dir, layer_dirs)
            # the timeout counts from here: a fork server starting first is not the function's time
            started = time.monotonic()
            child_spec["deadline_ms"] = int((time.time() + timeout) * 1000)
            process = self._start(child_spec, env, code_dir, stdin_read, output_write, forks)
        except BaseException:
            for fd in (stdin_write, output_read):
                os.close(fd)
            raise
        finally:
            os.close(stdin_read)
            os.close(output_write)
        with self._lock:
            self._running.add(process)
        reader = threading.Thread(
            target=_collect_output, args=(os.fdopen(output_read, "rb"), log), daemon=True
        )
        reader.start()
        try:
            with contextlib.suppress(OSError), os.fdopen(stdin_write, "wb") as stdin:
                stdin.write(event)  # OSError: the function exited before reading it; its exit says why
            try:
                return_code = process.wait(timeout)
                timed_out = False
            except TimeoutError:
                timed_out = True
                ended = time.monotonic()
                process.kill()
                try:
                    return_code = process.wait(10)
                except TimeoutError:
                    return_code = -signal.SIGKILL
            reader.join(timeout=2)  # a process the function left behind may still hold the pipe
        finally:
            process.kill()  # whatever the function started in the background goes with it
            with self._lock:
                self._running.discard(process)
        return timed_out, return_code, (ended if timed_out else time.monotonic()) - started

    def _ready_fork_server(self, code_dir: Path, layer_dirs: list[Path]) -> ForkServer | None:
        """The running fork server for this function, or None when it gets a process of its own: a
        function that bundles its own boto3 (or another runtime package) must import its copy, not the
        server's preloaded one."""
        if not self._use_fork_server or _bundles_runtime_packages([code_dir, *layer_dirs]):
            return None
        forks = self._fork_server()
        try:
            forks.ensure_running()
        except ForkServerError as exc:
            logger.warning("%s; starting the function as a process of its own", exc)
            return None
        return forks

    def _start(
        self,
        child_spec: dict[str, Any],
        env: dict[str, str],
        code_dir: Path,
        stdin_fd: int,
        output_fd: int,
        forks: ForkServer | None,
    ) -> FunctionProcess:
        if forks is not None:
            try:
                return forks.fork(child_spec, env, code_dir, stdin_fd, output_fd)
            except ForkServerError as exc:
                logger.warning("%s; starting the function as a process of its own", exc)
        # -I: no PYTHON* variables, no user site; -S: no site-packages (the harness is installed there)
        return SpawnedProcess(
            subprocess.Popen(
                [self._python, "-I", "-S", "-u", str(BOOTSTRAP), json.dumps(child_spec)],
                stdin=stdin_fd,
                stdout=output_fd,
                stderr=output_fd,
                cwd=code_dir,
                env=env,
                start_new_session=True,  # its own process group: a timeout kills what the function started
            )
        )

    def _fork_server(self) -> ForkServer:
        with self._lock:
            if self._forks is None:
                self._forks = ForkServer(
                    self._python,
                    BOOTSTRAP,
                    self._cache.runtime_packages(),
                    self._cache.root / "fork-server.log",
                )
            return self._forks


class FunctionProcess(Protocol):
    pid: int

    def wait(self, timeout: float | None) -> int:
        """The exit code (negative: the ending signal); TimeoutError if still running after `timeout`."""
        ...

    def kill(self) -> None:
        """SIGKILL to the process group."""
        ...


class SpawnedProcess:
    def __init__(self, process: subprocess.Popen[bytes]):
        self._process = process
        self.pid = process.pid

    def wait(self, timeout: float | None) -> int:
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"process {self.pid} still running") from None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


def _bundles_runtime_packages(folders: list[Path]) -> bool:
    for folder in folders:
        for root in (folder, folder / "python"):
            for name in RUNTIME_PACKAGES:
                if (root / name).exists() or (root / f"{name}.py").exists():
                    return True
    return False


def _collect_output(stream: IO[bytes] | None, log: InvocationLog) -> None:
    if stream is None:
        return
    kept = 0
    with stream:
        for raw in stream:
            kept += len(raw)
            if kept > _MAX_LOG_BYTES:
                log.add(f"(log truncated: an invocation keeps at most {_MAX_LOG_BYTES} bytes)")
                for _ in stream:
                    pass
                return
            log.add(raw.decode("utf-8", "replace").rstrip("\r\n"))


def _read_outcome(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _minor() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"
