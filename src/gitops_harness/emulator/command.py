"""`gitops-harness emulator`: run the embedded AWS standalone until Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any

from gitops_harness.errors import HarnessError, InputError

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
    if not args.time_scale > 0:
        raise InputError(f"--time-scale must be > 0, got {args.time_scale}")
    accounts = _accounts(args.config)
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
