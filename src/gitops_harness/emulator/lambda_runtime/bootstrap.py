"""The child side of Lambda invocations, standard library only (it must not import the harness).

`python -I -S -u bootstrap.py '<spec json>'` runs one invocation: it puts the function's code and layers
on sys.path, imports the handler as Lambda's Python runtime does, builds the context object, reads the
event from stdin, calls the handler and writes the outcome as JSON to the result file named in the spec:
a channel apart from stdout/stderr, which are the function's logs. Error shapes and texts follow
Lambda's Python runtime (awslambdaric).

`python -I -S -u bootstrap.py --serve <socket> <runtime packages dir>` is the fork server: it imports
boto3 once, then forks one child per invocation request (a new session: the executor kills its process
group on timeout), so a function does not pay boto3's import (0.3-0.6 s here) on every invocation.
A request on the Unix socket: the fds [stdin, stdout+stderr] with an 8-digit length, then that many
bytes of JSON {spec, env, cwd}. The server answers "pid <n>\n", and "exit <code>\n" when the child ends
(a negative code is the signal that ended it).
"""

import contextlib
import json
import logging
import os
import resource
import sys
import time
import traceback


class LambdaContext:
    def __init__(self, spec: dict) -> None:
        self.function_name = spec["function_name"]
        self.function_version = spec["function_version"]
        self.invoked_function_arn = spec["invoked_function_arn"]
        self.memory_limit_in_mb = str(spec["memory_limit_in_mb"])
        self.aws_request_id = spec["aws_request_id"]
        self.log_group_name = spec["log_group_name"]
        self.log_stream_name = spec["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = int(spec["deadline_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


class _RequestIdFilter(logging.Filter):
    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _install_logging(request_id: str) -> None:
    # Lambda's runtime puts one handler on the root logger (the root level stays WARNING)
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter(request_id))
    logging.getLogger().addHandler(handler)


def _error(error_type: str, message: str, request_id: str, stack: list | None = None) -> dict:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def _exception_error(exc: BaseException, request_id: str) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # drop the bootstrap's own frame
    return _error(type(exc).__name__, str(exc), request_id, traceback.format_list(frames))


def _load_handler(handler: str, request_id: str):
    try:
        module_path, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        return None, _error("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}", "")
    module_name = module_path.replace("/", ".")
    if module_name in sys.builtin_module_names:
        return None, _error(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
            "",
        )
    try:
        import importlib

        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        return None, _error(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", ""
        )
    except ImportError as exc:
        return None, _error(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", ""
        )
    except Exception as exc:
        error = _exception_error(exc, "")
        return None, error
    function = getattr(module, function_name, None)
    if function is None:
        return None, _error(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'", ""
        )
    return function, None


def _log_error(error: dict) -> None:
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n") for frame in error["stackTrace"])
    print("\n".join(lines), flush=True)


def run(spec: dict) -> int:
    started = time.monotonic()
    request_id = spec["aws_request_id"]
    for path in reversed(spec["sys_path"]):
        sys.path.insert(0, path)
    _install_logging(request_id)
    event_text = sys.stdin.read()
    outcome: dict = {}
    handler, error = _load_handler(spec["handler"], request_id)
    init_done = time.monotonic()
    if error is None:
        try:
            event = json.loads(event_text) if event_text.strip() else {}
        except ValueError as exc:
            error = _error("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}", request_id)
    if error is None:
        try:
            result = handler(event, LambdaContext(spec))
        except Exception as exc:
            error = _exception_error(exc, request_id)
        else:
            try:
                outcome["payload"] = json.dumps(result)
            except (TypeError, ValueError) as exc:
                error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id)
    if error is not None:
        _log_error(error)
        outcome["error"] = error
    outcome["init_ms"] = (init_done - started) * 1000
    outcome["duration_ms"] = (time.monotonic() - init_done) * 1000
    outcome["max_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    sys.stdout.flush()
    sys.stderr.flush()
    temporary = spec["result_path"] + ".part"
    with open(temporary, "w", encoding="utf-8") as result_file:
        json.dump(outcome, result_file)
    os.replace(temporary, spec["result_path"])
    return 0


_PRELOADED = ("boto3", "botocore.session", "botocore.client", "botocore.endpoint", "urllib3")


def serve(socket_path: str, runtime_packages: str) -> int:
    import importlib
    import select
    import signal
    import socket

    sys.path.append(runtime_packages)
    for name in _PRELOADED:
        # missing on the host: functions bring their own (or fail as they would on Lambda)
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)  # SIGCHLD wakes the select below
    children: dict = {}
    parent = os.getppid()
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([listener, wake_r], [], [], 1.0)
        if os.getppid() != parent:
            return 0  # the emulator is gone without stopping us: do not linger
        if wake_r in readable:
            try:
                while os.read(wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        _reap(children)
        if listener not in readable:
            continue
        connection, _ = listener.accept()
        try:
            request, fds = _receive_request(connection, socket)
        except (OSError, ValueError) as exc:
            print(f"bad request: {exc}", file=sys.stderr, flush=True)
            connection.close()
            continue
        pid = os.fork()
        if pid == 0:
            listener.close()
            for other in children.values():
                other.close()
            connection.close()
            os.close(wake_r)
            os.close(wake_w)
            _run_forked(request, fds, signal)
        for fd in fds:
            os.close(fd)
        children[pid] = connection
        with contextlib.suppress(OSError):
            connection.sendall(f"pid {pid}\n".encode())


def _receive_request(connection, socket) -> tuple:
    header, fds, _, _ = socket.recv_fds(connection, 8, 2)
    while len(header) < 8:
        more = connection.recv(8 - len(header))
        if not more:
            raise ValueError("connection closed in the header")
        header += more
    if len(fds) != 2:
        raise ValueError(f"expected 2 file descriptors, got {len(fds)}")
    size = int(header)
    body = b""
    while len(body) < size:
        more = connection.recv(size - len(body))
        if not more:
            raise ValueError("connection closed in the body")
        body += more
    return json.loads(body), fds


def _reap(children: dict) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            connection.close()


def _run_forked(request: dict, fds: list, signal) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # its own process group, which the executor kills on timeout
        sys.argv = sys.argv[:1]  # the function sees the bootstrap's name only, not the server's arguments
        stdin_fd, output_fd = fds
        os.dup2(stdin_fd, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(stdin_fd)
        os.close(output_fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        code = run(request["spec"])
    except SystemExit as exc:  # sys.exit() in the function ends the runtime, as on Lambda
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        sys.exit(serve(sys.argv[2], sys.argv[3]))
    sys.exit(run(json.loads(sys.argv[1])))
