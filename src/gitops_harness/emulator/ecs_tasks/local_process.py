"""Tasks as local processes: each container runs from its image's unpacked layers on this host.

- The image's layers (from the emulated ECR) are unpacked into the task's folder; WORKDIR becomes the
  working directory, image ENV then task definition `environment` the environment, ENTRYPOINT/CMD (or the
  task definition's entryPoint/command) the argv. RUN was never executed and the base image was never
  pulled, so the command's interpreter comes from this host's PATH.
- An image that is not in the emulated ECR (a public image) runs its task definition command the same
  way, with no layers.
- Each task gets its own loopback address (127.0.x.y: its "ENI" IP); each containerPort is mapped to a
  free port on it. Python processes get the mapping from a sitecustomize shim (port_shim/); other
  programs must bind the port given in GITOPS_TASK_PORTS themselves.
- Each container is its own process group: stop sends SIGTERM, then SIGKILL after the stop timeout.
  Every process still alive is killed at emulator stop, and at interpreter exit as a safety net.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gitops_harness.emulator.ecs_tasks.runtime import (
    ContainerSpec,
    RunningContainer,
    RunningTask,
    TaskFailure,
    TaskRuntime,
    TaskSpec,
)

SHIM_DIR = Path(__file__).with_name("port_shim")
STARTUP_GRACE = 10.0  # real seconds in which a container health check's failures do not count
_live_groups: set[int] = set()
_live_lock = threading.Lock()


def _kill_leftovers() -> None:
    with _live_lock:
        groups = list(_live_groups)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


atexit.register(_kill_leftovers)

_addresses = itertools.count(1)
_address_lock = threading.Lock()
_PER_PROCESS = 4000  # addresses a process takes before it wraps around


def _next_address() -> str:
    """A loopback address of its own for each task: all of 127/8 is loopback on Linux. Emulators in other
    processes on this machine take other ranges (by pid); 127.0.0.x is left to the host (resolvers)."""
    with _address_lock:
        n = next(_addresses) % _PER_PROCESS
    number = 256 + (os.getpid() % 4000) * _PER_PROCESS + n  # < 2**24
    return f"127.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def _not_runnable(program: str) -> TaskFailure:
    return TaskFailure(
        "CannotStartContainerError: ResourceInitializationError: failed to create new container runtime "
        f'task: unable to start container process: exec: "{program}": executable file not found in $PATH '
        "(the embedded AWS runs a task's command with this host's programs: the image's base was never "
        "pulled and RUN never executed)"
    )


class _Container:
    def __init__(self, spec: ContainerSpec, process: subprocess.Popen[bytes], running: RunningContainer):
        self.spec = spec
        self.process = process
        self.running = running
        self.reader: threading.Thread | None = None
        self.checker: threading.Thread | None = None


class _Task:
    def __init__(self, running: RunningTask, spec: TaskSpec, on_stopped: Callable[[RunningTask], None]):
        self.running = running
        self.spec = spec
        self.on_stopped = on_stopped
        self.containers: list[_Container] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.reported = False


class LocalProcessRuntime(TaskRuntime):
    def __init__(self, state_dir: Path, time_scale: float = 1.0, floor: float = 0.05):
        self.state_dir = state_dir
        self.time_scale = time_scale
        self.floor = floor
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._closed = False

    def scaled(self, aws_seconds: float) -> float:
        return max(self.floor, aws_seconds * self.time_scale)

    # ---- start ---------------------------------------------------------------------------------

    def start(self, spec: TaskSpec, on_stopped: Callable[[RunningTask], None]) -> RunningTask:
        address = _next_address()
        folder = self.state_dir / "tasks" / spec.task_id
        running = RunningTask(spec.task_id, address, folder)
        task = _Task(running, spec, on_stopped)
        try:
            prepared = [(c, self._prepare(c, folder / c.name, address)) for c in spec.containers]
        except TaskFailure:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        with self._lock:
            if self._closed:
                raise TaskFailure("Task stopped before it started: the emulator is stopping")
            self._tasks[spec.task_id] = task
        try:
            for container, (argv, env, cwd, ports) in prepared:
                with task.lock:  # a stop that comes meanwhile sees every process started (_terminate)
                    if task.stopping.is_set():
                        break
                    process = subprocess.Popen(
                        argv,
                        cwd=cwd,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its own process group: stop signals reach its children too
                    )
                    with _live_lock:
                        _live_groups.add(process.pid)
                    state = RunningContainer(container.name, ports)
                    running.containers[container.name] = state
                    handle = _Container(container, process, state)
                    task.containers.append(handle)
                handle.reader = threading.Thread(
                    target=self._follow, args=(task, handle), name=f"task-{spec.task_id[:8]}-{container.name}"
                )
                handle.reader.daemon = True
                handle.reader.start()
                if container.health_check:
                    handle.checker = threading.Thread(
                        target=self._check_health, args=(task, handle, env, cwd), daemon=True
                    )
                    handle.checker.start()
        except OSError as exc:
            self._terminate(task)
            with self._lock:
                self._tasks.pop(spec.task_id, None)
            shutil.rmtree(folder, ignore_errors=True)
            raise TaskFailure(f"CannotStartContainerError: {exc.strerror or exc}") from None
        return running

    def _prepare(
        self, container: ContainerSpec, folder: Path, address: str
    ) -> tuple[list[str], dict[str, str], Path, dict[int, int]]:
        rootfs = folder / "rootfs"
        if container.content is not None:
            container.content.unpack(rootfs)
        else:
            rootfs.mkdir(parents=True, exist_ok=True)
        workdir = rootfs / container.working_directory.lstrip("/")
        workdir.mkdir(parents=True, exist_ok=True)
        if not container.command:
            raise TaskFailure(
                f"CannotStartContainerError: container {container.name}: no command specified "
                "(neither the image nor the task definition gives one)"
            )
        ports = {port: _free_port(address) for port in container.container_ports}
        env = {
            "HOME": os.environ.get("HOME", str(folder)),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            **container.environment,
        }
        image_path = [
            str(rootfs / d.lstrip("/")) for d in container.environment.get("PATH", "").split(":") if d
        ]
        env["PATH"] = os.pathsep.join(
            [*(p for p in image_path if os.path.isdir(p)), os.environ.get("PATH", "")]
        )
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(SHIM_DIR), container.environment.get("PYTHONPATH")])
        )
        env["GITOPS_TASK_ADDRESS"] = address
        env["GITOPS_TASK_PORTS"] = ",".join(f"{c}:{h}" for c, h in ports.items())
        argv = [self._in_rootfs(arg, rootfs) for arg in container.command]
        argv[0] = self._executable(container.command[0], argv[0], env["PATH"], workdir)
        return argv, env, workdir, ports

    @staticmethod
    def _in_rootfs(arg: str, rootfs: Path) -> str:
        """An absolute path that exists in the image means that file, not the host's."""
        if arg.startswith("/") and (rootfs / arg.lstrip("/")).exists():
            return str(rootfs / arg.lstrip("/"))
        return arg

    @staticmethod
    def _executable(program: str, resolved: str, path: str, workdir: Path) -> str:
        if "/" in program:
            candidate = Path(resolved) if os.path.isabs(resolved) else workdir / resolved
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
            raise _not_runnable(program)
        found = shutil.which(program, path=path)
        if found is None:
            raise _not_runnable(program)
        return found

    # ---- while it runs ---------------------------------------------------------------------------

    def _follow(self, task: _Task, handle: _Container) -> None:
        stream = handle.process.stdout
        assert stream is not None
        sink = handle.spec.log_sink
        for raw in iter(stream.readline, b""):
            if sink is not None:
                sink(raw.decode("utf-8", "replace").rstrip("\n"))
        handle.running.exit_code = handle.process.wait()
        with _live_lock:
            _live_groups.discard(handle.process.pid)
        if handle.spec.essential and not task.stopping.is_set():
            reason = "Essential container in task exited"
            self._finish(task, reason)

    def _check_health(self, task: _Task, handle: _Container, env: dict[str, str], cwd: Path) -> None:
        check = handle.spec.health_check or {}
        command = [str(part) for part in check.get("command", [])]  # type: ignore[union-attr]
        if not command or command[0] == "NONE":
            return
        if command[0] == "CMD-SHELL":
            argv = ["/bin/sh", "-c", " ".join(command[1:])]
        else:
            argv = command[1:] if command[0] == "CMD" else command
        interval = self.scaled(float(check.get("interval", 30)))  # type: ignore[arg-type]
        # A timeout is a limit, not a wait: scaling it down would only fail slow starts.
        timeout = float(check.get("timeout", 5))  # type: ignore[arg-type]
        retries = int(check.get("retries", 3))  # type: ignore[call-overload]
        # Processes start in real time whatever the time scale: failures count only after the start
        # period, and never within STARTUP_GRACE real seconds (a success ends the start period at once).
        start_period = max(self.scaled(float(check.get("startPeriod", 0))), STARTUP_GRACE)  # type: ignore[arg-type]
        grace_until = time.monotonic() + start_period
        failures = 0
        while not task.stopping.wait(interval):
            try:
                ok = (
                    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=timeout).returncode
                    == 0
                )
            except (OSError, subprocess.TimeoutExpired):
                ok = False
            if ok:
                failures = 0
                grace_until = 0.0
                handle.running.health_status = "HEALTHY"
            elif time.monotonic() >= grace_until:
                failures += 1
                if failures >= retries:
                    handle.running.health_status = "UNHEALTHY"
                    if handle.spec.essential:
                        threading.Thread(
                            target=self.stop,
                            args=(task.running, "Task failed container health checks"),
                            daemon=True,
                        ).start()
                    return

    # ---- stop ------------------------------------------------------------------------------------

    def _finish(self, task: _Task, reason: str) -> None:
        with task.lock:
            if task.reported:
                return
            task.reported = True
        threading.Thread(target=self.stop, args=(task.running, reason), daemon=True).start()

    def stop(self, task: RunningTask, reason: str) -> None:
        with self._lock:
            handle = self._tasks.get(task.task_id)
        if handle is None:
            return
        with handle.lock:
            first = not handle.stopping.is_set()
            handle.stopping.set()
            handle.reported = True
        self._terminate(handle)
        if first:
            task.stopped_reason = task.stopped_reason or reason
            with self._lock:
                self._tasks.pop(task.task_id, None)
            shutil.rmtree(task.folder, ignore_errors=True)
            handle.on_stopped(task)

    def _terminate(self, task: _Task) -> None:
        task.stopping.set()
        with task.lock:
            containers = list(task.containers)
        for handle in containers:
            _signal(handle.process, signal.SIGTERM)
        deadline = time.monotonic() + task.spec.stop_timeout
        for handle in containers:
            try:
                handle.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(handle.process, signal.SIGKILL)
                handle.process.wait()
            with _live_lock:
                _live_groups.discard(handle.process.pid)
            if handle.process.stdout is not None and handle.reader is not None:
                handle.reader.join(2)

    def stop_all(self) -> None:
        with self._lock:
            self._closed = True
            tasks = [t.running for t in self._tasks.values()]
        threads = [
            threading.Thread(target=self.stop, args=(t, "Emulator stopped"), daemon=True) for t in tasks
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)  # the whole group: a shell's children too
