"""Rules for imageDetail.json, which the build writes and the deploy action reads the image URI from."""

from __future__ import annotations

from gitops_harness.artifacts import formats
from gitops_harness.artifacts.documents import Document
from gitops_harness.findings import Finding, Severity

# What AWS's own ECR source action writes into imageDetail.json (CodePipeline action reference, "Amazon ECR
# source action"): these keys are expected, not stray.
ECR_SOURCE_ACTION_KEYS = frozenset(
    {
        "ImageURI",
        "ImageDigest",
        "ImageTags",
        "RegistryId",
        "RepositoryName",
        "ImagePushedAt",
        "ImageSizeInBytes",
        "Version",
    }
)


def check_image_detail(doc: Document) -> list[Finding]:
    data = doc.data
    if not isinstance(data, dict):
        return [
            Finding(
                doc.name,
                "(top level)",
                "ID001",
                Severity.ERROR,
                'imageDetail.json must be a JSON object like {"ImageURI": "<ecr uri>@sha256:<digest>"}',
            )
        ]
    findings: list[Finding] = []
    for key in data:
        if key not in ECR_SOURCE_ACTION_KEYS:
            findings.append(
                Finding(
                    doc.name,
                    key,
                    "ID003",
                    Severity.WARNING,
                    f"unexpected key '{key}': the deploy action reads only ImageURI (and the ECR source "
                    "action's own keys are accepted)",
                )
            )
    uri = data.get("ImageURI")
    if uri is None:
        findings.append(
            Finding(
                doc.name,
                "ImageURI",
                "ID002",
                Severity.ERROR,
                "ImageURI is missing: the deploy action has no image to put in the task definition",
            )
        )
        return findings
    match = formats.ECR_IMAGE_URI.match(uri) if isinstance(uri, str) else None
    if match is None or not formats.REGION.match(match["region"]) or not (match["tag"] or match["digest"]):
        findings.append(
            Finding(
                doc.name,
                "ImageURI",
                "ID004",
                Severity.ERROR,
                f"{uri!r} is not an ECR image URI; expected "
                "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex digits> "
                "(or :<tag>)",
            )
        )
    elif not match["digest"]:
        findings.append(
            Finding(
                doc.name,
                "ImageURI",
                "ID005",
                Severity.WARNING,
                f"the image is pinned by the mutable tag '{match['tag']}'; write the pushed "
                "digest (@sha256:...) so the deployment runs exactly the image that was built",
            )
        )
    return findings
