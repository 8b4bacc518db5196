"""`gitops-harness emulator`: run the embedded AWS standalone until Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import math
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from gitops_harness.errors import HarnessError, InputError, ToolError

DEFAULT_ACCOUNTS = {"management": "111111111111", "pipeline": "222222222222"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="run the embedded AWS (front door: our code-service control planes + moto)",
        description="Serve the embedded AWS on one endpoint until Ctrl-C. Point tools at it with "
        "AWS_ENDPOINT_URL; a 12-digit access key id names the account (any other key: 000000000000).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4566, help="port (default 4566; 0 = a free port)")
    parser.add_argument(
        "--state-dir",
        help="keep state files (git repositories, builds) here; default: a temporary folder removed on exit",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="clock seconds per AWS second (1/60: a 5-minute wait takes 5 s; default 1)",
    )
    parser.add_argument(
        "--config", help="harness.yaml to read the accounts from (default: found from the cwd)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be 0..65535, got {args.port}")
    if not (args.time_scale > 0 and math.isfinite(args.time_scale)):
        raise InputError(f"--time-scale must be > 0 and finite, got {args.time_scale}")
    accounts = _accounts(args.config)
    if args.state_dir is not None:
        _check_state_dir(Path(args.state_dir))
    _check_listen(args.host, args.port)
    started = time.monotonic()
    from gitops_harness.emulator.registry import CONTROL_PLANES, signing_name_of
    from gitops_harness.emulator.server import EmbeddedAWS  # imports moto: only when the command runs

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    # planes load on a thread once the server listens: moto's services answer meanwhile (cold start)
    aws = EmbeddedAWS(
        args.host, args.port, state_dir=args.state_dir, time_scale=args.time_scale, background_planes=True
    )
    try:
        aws.start()
        url = aws.endpoint_url
        ours = ", ".join(sorted(signing_name_of(entry) for entry in CONTROL_PLANES))
        print(f"endpoint: {url}")
        print(f"started in {time.monotonic() - started:.2f}s; control planes: {ours}; other services: moto")
        print(
            "accounts: "
            + ", ".join(f"{name} {account_id}" for name, account_id in accounts.items())
            + " (any 12-digit access key id names an account; other keys act in 000000000000)"
        )
        print(f"state: {aws.state_dir}" + (" (temporary)" if args.state_dir is None else ""))
        print("use it:")
        print(
            f"  export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID={accounts.get('pipeline', '000000000000')} "
            f"AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={aws.region}"
        )
        print(f"  aws sts get-caller-identity    # health: {url}/_localstack/health")
        print("Ctrl-C stops it.", flush=True)
        while not stop.wait(0.5):  # the wait wakes on the signal; the timeout only keeps signals deliverable
            if aws.planes_error is not None:
                aws.wait_for_planes()  # raises ToolError with the reason: exit 3
    finally:
        aws.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopped", flush=True)
    return 0


def _check_state_dir(state_dir: Path) -> None:
    if state_dir.exists() and not state_dir.is_dir():
        raise InputError(f"--state-dir {state_dir}: is a file; name a folder (it is created if missing)")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--state-dir {state_dir}: cannot create it: {exc.strerror or exc}") from None


def _check_listen(host: str, port: int) -> None:
    """The address resolves and the port is free, checked with a socket of our own so the answer is
    one line (werkzeug would print its own text and exit 1); and a loud warning off loopback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise InputError(f"--host {host}: not an address to listen on ({reason})") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's server does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ToolError(
                    f"cannot listen on {host}:{port}: the port is in use (pass --port 0 for a free port, "
                    "or stop what uses it)"
                ) from None
            raise InputError(f"--host {host}: cannot listen there: {exc.strerror or exc}") from None
    if not ipaddress.ip_address(address[0]).is_loopback:
        print(
            f"WARNING: --host {host} serves the embedded AWS to anyone who can reach this machine. It does "
            "not check request signatures: any caller can act in any account. Use 127.0.0.1 unless you "
            "mean it.",
            file=sys.stderr,
            flush=True,
        )


def _accounts(config_path: str | None) -> dict[str, str]:
    """Accounts from harness.yaml when there is one; the config module owns the rules."""
    try:
        from gitops_harness.config import load_config
    except ImportError:
        return dict(DEFAULT_ACCOUNTS)
    config = load_config(config_path)
    return {"management": config.accounts.management, "pipeline": config.accounts.pipeline}


if __name__ == "__main__":  # python -m gitops_harness.emulator.command, without the other subcommands
    _parser = argparse.ArgumentParser(prog="gitops-harness")
    register(_parser.add_subparsers(dest="command", required=True))
    _args = _parser.parse_args(["emulator", *sys.argv[1:]])
    try:
        sys.exit(_args.func(_args))
    except HarnessError as _exc:
        print(f"gitops-harness emulator: error: {_exc}", file=sys.stderr)
        sys.exit(_exc.exit_code)
