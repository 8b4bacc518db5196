"""Which `runtime-versions` each CodeBuild-managed Linux image offers (data, not logic).

Source: AWS CodeBuild User Guide, "Available runtimes" (Linux image runtimes table) and "Runtime versions"
(docs.aws.amazon.com/codebuild/latest/userguide/available-runtimes.html, runtime-versions.html), read
2026-12. Update the table from that page when CodeBuild ships an image; an image missing here is not
checked. `docker` stopped being a selectable runtime with standard:5.0 / amazonlinux2 standard:3.0 (the
Docker engine is always installed), so `docker: 18` / `docker: 19` fail the INSTALL phase on current images
with "Unknown runtime named 'docker'".
"""

from __future__ import annotations

import re

SOURCE = "AWS CodeBuild User Guide, 'Available runtimes' (Linux image runtimes)"

# The image a project gets in the console today, used when no template names one.
CURRENT_STANDARD_IMAGE = "aws/codebuild/standard:7.0"

_AL2023 = {
    "dotnet": ("6.0", "8.0"),
    "golang": ("1.20", "1.21", "1.22", "1.23", "1.24"),
    "java": ("corretto8", "corretto11", "corretto17", "corretto21"),
    "nodejs": ("18", "20", "22"),
    "php": ("8.1", "8.2", "8.3"),
    "python": ("3.9", "3.10", "3.11", "3.12", "3.13"),
    "ruby": ("3.1", "3.2", "3.3", "3.4"),
}

RUNTIMES: dict[str, dict[str, tuple[str, ...]]] = {
    "aws/codebuild/standard:8.0": {
        "dotnet": ("8.0",),
        "golang": ("1.22", "1.23", "1.24"),
        "java": ("corretto21",),
        "nodejs": ("20", "22"),
        "php": ("8.3",),
        "python": ("3.12", "3.13"),
        "ruby": ("3.3", "3.4"),
    },
    "aws/codebuild/standard:7.0": {
        "dotnet": ("6.0", "8.0"),
        "golang": ("1.20", "1.21", "1.22", "1.23"),
        "java": ("corretto8", "corretto11", "corretto17", "corretto21"),
        "nodejs": ("18", "20", "22"),
        "php": ("8.1", "8.2", "8.3"),
        "python": ("3.9", "3.10", "3.11", "3.12", "3.13"),
        "ruby": ("3.1", "3.2", "3.3"),
    },
    "aws/codebuild/standard:6.0": {
        "dotnet": ("6.0",),
        "golang": ("1.18",),
        "java": ("corretto11", "corretto17"),
        "nodejs": ("16",),
        "php": ("8.1",),
        "python": ("3.10",),
        "ruby": ("3.1",),
    },
    "aws/codebuild/standard:5.0": {
        "dotnet": ("3.1", "5.0", "6.0"),
        "golang": ("1.12", "1.13", "1.14", "1.15", "1.16", "1.18"),
        "java": ("corretto8", "corretto11"),
        "nodejs": ("10", "12", "14"),
        "php": ("7.3", "7.4", "8.0"),
        "python": ("3.7", "3.8", "3.9"),
        "ruby": ("2.6", "2.7"),
    },
    "aws/codebuild/standard:4.0": {
        "docker": ("19",),
        "dotnet": ("3.1",),
        "golang": ("1.12", "1.13", "1.14"),
        "java": ("corretto8", "corretto11"),
        "nodejs": ("10", "12"),
        "php": ("7.3", "7.4"),
        "python": ("3.7", "3.8"),
        "ruby": ("2.6", "2.7"),
    },
    "aws/codebuild/amazonlinux-x86_64-standard:5.0": _AL2023,
    "aws/codebuild/amazonlinux2-x86_64-standard:5.0": _AL2023,
    "aws/codebuild/amazonlinux-aarch64-standard:3.0": _AL2023,
    "aws/codebuild/amazonlinux2-aarch64-standard:3.0": _AL2023,
    "aws/codebuild/amazonlinux2-x86_64-standard:4.0": {
        "dotnet": ("6.0",),
        "golang": ("1.18",),
        "java": ("corretto8", "corretto11", "corretto17"),
        "nodejs": ("16",),
        "php": ("8.1",),
        "python": ("3.9",),
        "ruby": ("3.1",),
    },
}


def runtimes_of(image: str) -> dict[str, tuple[str, ...]] | None:
    """The runtimes an image offers; None for custom images and images not in the table."""
    return RUNTIMES.get(image.strip())


def offers(versions: tuple[str, ...], wanted: str) -> bool:
    """`wanted` as a buildspec writes it: an exact version, `<major>.x`, or `latest`."""
    wanted = wanted.strip()
    if wanted == "latest":
        return bool(versions)
    if wanted.endswith(".x"):
        major = wanted[:-2]
        return any(re.split(r"[.]", v)[0] == major or v == major for v in versions)
    return wanted in versions
