"""Approve -> deployment Succeeded for the reference config (ECSCanary10Percent5Minutes, 5-minute
termination wait) on the embedded target, and the harness's own overhead: wall time minus the
config's scaled waits (canary interval + termination wait, times the time scale), which are the
baseline measured in the same run. Target: overhead <= 1.5 s.

Each run pushes a commit, waits for the approval (not timed), then times approve -> Succeeded while
release.follow_release watches it as the suite does (live probes on both listeners, the weight recorder).

    .venv/bin/python bench/bench_bluegreen.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from gitops_harness.deployments import settle_deployment_group
from gitops_harness.release import follow_release
from timing import reference_pipeline

OVERHEAD_TARGET = 1.5  # seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    walls, waits = [], []
    with reference_pipeline({"bluegreen", "alb-data-plane", "build"}, "bench_bluegreen") as ready:
        if ready is None:
            return 0
        target, stacks, pipeline = ready
        codedeploy = target.client("codedeploy", "pipeline")
        for n in range(args.runs):
            settle_deployment_group(codedeploy, stacks.codedeploy_application, stacks.deployment_group, 120)
            version = f"9.{n}.{int(time.time())}"
            sha = pipeline.push_app({"VERSION": f"{version}\n"}, f"bench {n}")
            execution = pipeline.wait_for_execution(sha, timeout=60)
            approval = pipeline.wait_for_approval(execution["pipelineExecutionId"], timeout=240)
            image = json.loads(pipeline.output_artifact(approval.execution_id)["imageDetail.json"])[
                "ImageURI"
            ]
            run = follow_release(pipeline, approval, image, f"{version}+{sha[:12]}")
            failed = {claim: p for claim, p in run.problems().items() if p}
            if failed:
                print(f"run {n}: the release did not hold: {failed}", file=sys.stderr)
                return 1
            walls.append(run.seconds_approve_to_succeeded)
            waits.append(run.scaled_waits)
            print(
                f"run {n}: approve -> Succeeded {walls[-1]:.2f} s, scaled waits {waits[-1]:.2f} s, "
                f"overhead {walls[-1] - waits[-1]:.2f} s ({run.routing.name})",
                flush=True,
            )
            print("  " + ", ".join(f"{k} {v:.2f}s" for k, v in run.breakdown().items()), flush=True)
    wall, wait = statistics.median(walls), statistics.median(waits)
    overhead = statistics.median(w - s for w, s in zip(walls, waits, strict=True))
    verdict = "within" if overhead <= OVERHEAD_TARGET else "OVER"
    print(
        f"approve -> deployment Succeeded: median {wall:.2f} s over {len(walls)} runs "
        f"(min {min(walls):.2f}, max {max(walls):.2f}); baseline scaled AWS waits {wait:.2f} s; "
        f"ratio {wall / wait:.2f}x; harness overhead {overhead:.2f} s, {verdict} the {OVERHEAD_TARGET} s target"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
