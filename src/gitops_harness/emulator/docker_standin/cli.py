"""The `docker` command of the stand-in: the subcommands buildspecs use, each a thin layer over a module.

Supported: login, build, tag, push, images, inspect / image inspect, version, info (plus `image ls|tag|
push|build`). Anything else fails with exit 1. Flag errors exit 125, like the docker CLI.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from gitops_harness.emulator.docker_standin import builder, gotemplate, views
from gitops_harness.emulator.docker_standin.errors import EXIT_USAGE, DockerError
from gitops_harness.emulator.docker_standin.image_store import ImageStore
from gitops_harness.emulator.docker_standin.progress import PlainProgress
from gitops_harness.emulator.docker_standin.reference import parse_reference

STANDIN_VERSION = "24.0.9-gitops-harness-standin"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise DockerError(f"{self.prog}: {message}", EXIT_USAGE)


def _parser(prog: str) -> _Parser:
    return _Parser(prog=prog, add_help=False, allow_abbrev=False)


def _key_value(pairs: list[str], flag: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key:
            raise DockerError(f'invalid argument {pair!r} for "{flag}" flag', EXIT_USAGE)
        out[key] = value  # `--build-arg K` without `=` means K="" here (docker would read the env)
    return out


def cmd_login(argv: list[str], store: ImageStore) -> int:
    p = _parser("docker login")
    p.add_argument("-u", "--username", default="")
    p.add_argument("-p", "--password")
    p.add_argument("--password-stdin", action="store_true")
    p.add_argument("server")
    args = p.parse_args(argv)
    if args.password_stdin and args.password is not None:
        raise DockerError("--password and --password-stdin are mutually exclusive", EXIT_USAGE)
    if not args.password_stdin and args.password is None:
        raise DockerError("the gitops-harness stand-in needs --password-stdin or -p (no interactive login)")
    # Imported here: only login and push talk to ECR, so only they pay for loading boto3 (each docker
    # command is a fresh process in a build; `docker build` starts without it).
    from gitops_harness.emulator.docker_standin import registry_login

    # The registry's ECR client is made before stdin is read: in `aws ecr get-login-password | docker
    # login`, the AWS CLI is still starting then, so loading boto3 overlaps it instead of following it.
    registry = registry_login.RegistryLogin(args.server)
    if args.password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
    else:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", file=sys.stderr)
        password = args.password
    path = registry.login(store, args.username, password)
    print(f"WARNING! Your password will be stored unencrypted in {path}.", file=sys.stderr)
    print("Login Succeeded")
    return 0


def cmd_build(argv: list[str], store: ImageStore) -> int:
    p = _parser("docker build")
    p.add_argument("-t", "--tag", action="append", default=[])
    p.add_argument("-f", "--file")
    p.add_argument("--build-arg", action="append", default=[])
    p.add_argument("--label", action="append", default=[])
    p.add_argument("--target")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--platform", default="linux/amd64")
    p.add_argument("--iidfile")
    # Accepted and without effect: there is no cache and nothing to pull.
    for flag in ("--pull", "--no-cache", "--rm", "--force-rm"):
        p.add_argument(flag, action="store_true")
    for flag in ("--progress", "--network", "--cache-from", "--cache-to"):
        p.add_argument(flag, action="append", default=[])
    p.add_argument("context")
    args = p.parse_args(argv)
    if args.context == "-" or "://" in args.context:
        raise DockerError(
            f"unable to prepare context: the gitops-harness stand-in builds from a local directory, not {args.context!r}"
        )
    context = Path(args.context)
    dockerfile = Path(args.file) if args.file else context / "Dockerfile"
    request = builder.BuildRequest(
        context=context,
        dockerfile=dockerfile,
        build_args=_key_value(args.build_arg, "--build-arg"),
        target=args.target,
        labels=_key_value(args.label, "--label"),
        tags=[parse_reference(t) for t in args.tag],
        platform=args.platform,
    )
    image = builder.build(request, store, PlainProgress(None if args.quiet else sys.stderr))
    if args.iidfile:
        Path(args.iidfile).write_text(image.id)
    if args.quiet:
        print(image.id)
    return 0


def cmd_tag(argv: list[str], store: ImageStore) -> int:
    p = _parser("docker tag")
    p.add_argument("source")
    p.add_argument("target")
    args = p.parse_args(argv)
    image = store.resolve(args.source)
    if image is None:
        raise DockerError(f"Error response from daemon: No such image: {args.source}")
    target = parse_reference(args.target)
    if target.digest:
        raise DockerError(f"refusing to create a tag with a digest reference: {args.target}")
    store.tag(image, target)
    return 0


def cmd_push(argv: list[str], store: ImageStore) -> int:
    p = _parser("docker push")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-a", "--all-tags", action="store_true")
    p.add_argument("name")
    args = p.parse_args(argv)
    if args.all_tags:
        raise DockerError("docker push --all-tags is not supported by the gitops-harness stand-in")
    from gitops_harness.emulator.docker_standin import registry_push  # boto3: see cmd_login

    registry_push.push(store, args.name, sys.stdout)
    return 0


def cmd_images(argv: list[str], store: ImageStore) -> int:
    p = _parser("docker images")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("repository", nargs="?")
    args = p.parse_args(argv)
    for line in views.images_table(store, args.repository, args.quiet):
        print(line)
    return 0


def cmd_inspect(argv: list[str], store: ImageStore, noun: str = "object") -> int:
    p = _parser("docker inspect")
    p.add_argument("-f", "--format")
    p.add_argument("--type")
    p.add_argument("names", nargs="+")
    args = p.parse_args(argv)
    if args.type not in (None, "image"):
        raise DockerError(f"Error: the gitops-harness stand-in has images only, not {args.type}s")
    found, missing = [], []
    for name in args.names:
        image = store.resolve(name)
        if image is None:
            missing.append(name)
        else:
            found.append(views.inspect_object(store, image))
    if args.format:
        for obj in found:
            print(gotemplate.render(args.format, obj))
    else:
        print(json.dumps(found, indent=4))
    if missing:
        # docker prints what it found, then one error per missing name, and exits 1.
        raise DockerError("\n".join(f"Error: No such {noun}: {m}" for m in missing))
    return 0


def cmd_image(argv: list[str], store: ImageStore) -> int:
    sub = {
        "inspect": lambda a, s: cmd_inspect(a, s, "image"),
        "ls": cmd_images,
        "list": cmd_images,
        "tag": cmd_tag,
        "push": cmd_push,
        "build": cmd_build,
    }
    if not argv or argv[0] not in sub:
        raise DockerError(
            f"docker: 'image {argv[0] if argv else ''}' is not supported by the gitops-harness stand-in"
        )
    return sub[argv[0]](argv[1:], store)


def cmd_version(argv: list[str], store: ImageStore) -> int:
    print(
        "Client: gitops-harness docker stand-in (daemonless; builds OCI images, pushes to the emulated ECR)"
    )
    print(f" Version:    {STANDIN_VERSION}")
    print(f" Python:     {platform.python_version()}")
    print(f" OS/Arch:    {platform.system().lower()}/{platform.machine()}")
    print("\nServer: none (no Docker engine; RUN is recorded, not executed; base images are not pulled)")
    return 0


def cmd_info(argv: list[str], store: ImageStore) -> int:
    print("Client: gitops-harness docker stand-in")
    print(f" Version: {STANDIN_VERSION}")
    print(f" Image store: {store.layout} (OCI image layout)")
    print(f" Images: {len({img.id for _, img in store.entries()})}")
    print("Server: none (daemonless stand-in)")
    return 0


COMMANDS: dict[str, Callable[[list[str], ImageStore], int]] = {
    "login": cmd_login,
    "build": cmd_build,
    "tag": cmd_tag,
    "push": cmd_push,
    "images": cmd_images,
    "inspect": cmd_inspect,
    "image": cmd_image,
    "version": cmd_version,
    "info": cmd_info,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("Usage: docker COMMAND  (gitops-harness stand-in: " + ", ".join(sorted(COMMANDS)) + ")")
        return 0 if argv else 1
    if argv[0] in ("-v", "--version"):
        print(f"Docker version {STANDIN_VERSION} (gitops-harness stand-in)")
        return 0
    command, rest = argv[0], argv[1:]
    try:
        if command not in COMMANDS:
            raise DockerError(f"docker: '{command}' is not supported by the gitops-harness stand-in")
        return COMMANDS[command](rest, ImageStore())
    except DockerError as exc:
        sys.stdout.flush()
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
