"""Push -> traffic-shifted chat message for the reference pipeline on the embedded target, and the
harness's overhead over the scaled AWS waits on that path, each times the time scale: the canary's
interval between weight steps; green's health checks before Install can succeed (the container's first
health check comes one healthCheck interval after it starts, and the ALB wants HealthyThresholdCount
passes one HealthCheckIntervalSeconds apart: the longer of the two, as they run side by side); and
CodeBuild's queue and provisioning. The termination wait comes after the hook and is not on the path.
Targets: overhead <= 3 s, of which push -> approval pending <= 2.5 s (reported as wall time, the build's
scaled queue and provisioning not taken off). The overhead over the canary interval alone is printed too.

Each run pushes a commit through the mirror, waits for the approval (the harness sees it pending),
approves at once and follows the deployment as the suites do (release.follow_release); the end is the
time the chat receiver recorded the notifier's AfterAllowTraffic post.

    .venv/bin/python bench/bench_notify.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from gitops_harness.deployments import settle_deployment_group
from gitops_harness.emulator.codebuild.engine import PROVISIONING_SECONDS, QUEUED_SECONDS
from gitops_harness.release import ReleaseRun, follow_release
from timing import reference_pipeline

OVERHEAD_TARGET = 3.0  # seconds
APPROVAL_TARGET = 2.5  # seconds, push -> approval pending


def health_wait_seconds(target, stacks) -> float:  # noqa: ANN001 - the embedded target and its stacks
    """AWS seconds green's health checks take at least before it counts healthy (unscaled)."""
    elbv2, ecs = target.client("elbv2", "pipeline"), target.client("ecs", "pipeline")
    [listener] = elbv2.describe_listeners(ListenerArns=[stacks.production_listener_arn])["Listeners"]
    groups = elbv2.describe_target_groups(LoadBalancerArn=listener["LoadBalancerArn"])["TargetGroups"]
    alb = max((g["HealthyThresholdCount"] - 1) * g["HealthCheckIntervalSeconds"] for g in groups)
    [service] = ecs.describe_services(cluster=stacks.cluster_name, services=[stacks.service_name])["services"]
    definitions = {t["taskDefinition"] for t in service.get("taskSets", [])} or {service["taskDefinition"]}
    container = max(
        (c.get("healthCheck") or {}).get("interval", 30) if c.get("healthCheck") else 0
        for arn in definitions
        for c in ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"]
    )
    return float(max(alb, container))


def canary_seconds(run: ReleaseRun) -> float:
    return run.routing.interval_minutes * (len(run.routing.steps) - 1) * 60 * run.time_scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    walls, waits, canaries, approvals = [], [], [], []
    with reference_pipeline(
        {"bluegreen", "alb-data-plane", "build", "lambda-invoke", "chat-receiver"}, "bench_notify"
    ) as ready:
        if ready is None:
            return 0
        target, stacks, pipeline = ready
        chat = target.chat
        codedeploy = target.client("codedeploy", "pipeline")
        for n in range(args.runs):
            settle_deployment_group(codedeploy, stacks.codedeploy_application, stacks.deployment_group, 120)
            version = f"9.{n}.{int(time.time())}"
            pushed = time.time()
            sha = pipeline.push_app({"VERSION": f"{version}\n"}, f"bench notify {n}")
            execution = pipeline.wait_for_execution(sha, timeout=60)
            approval = pipeline.wait_for_approval(execution["pipelineExecutionId"], timeout=240)
            pending = time.time() - pushed
            image = json.loads(pipeline.output_artifact(approval.execution_id)["imageDetail.json"])[
                "ImageURI"
            ]
            run = follow_release(pipeline, approval, image, f"{version}+{sha[:12]}")
            [post] = chat.wait_for(
                lambda p, d=run.deployment.id, t=pushed: (
                    p.at >= t and "Traffic shift complete" in p.text and d in p.text
                ),
                timeout=60,
                describe=f"the traffic-shifted post for {run.deployment.id}",
            )
            failed = {claim: p for claim, p in run.problems().items() if p}
            if failed:
                print(f"run {n}: the release did not hold: {failed}", file=sys.stderr)
                return 1
            canary = canary_seconds(run)
            scaled = (
                canary
                + (health_wait_seconds(target, stacks) + QUEUED_SECONDS + PROVISIONING_SECONDS)
                * run.time_scale
            )
            walls.append(post.at - pushed)
            waits.append(scaled)
            canaries.append(canary)
            approvals.append(pending)
            print(
                f"run {n}: push -> traffic-shifted post {walls[-1]:.2f} s, scaled waits {scaled:.2f} s "
                f"(canary {canary:.2f} s), overhead {walls[-1] - scaled:.2f} s (over the canary alone "
                f"{walls[-1] - canary:.2f} s); push -> approval pending {pending:.2f} s",
                flush=True,
            )
            # where push -> approval went: each pipeline action's own start/end
            rows = pipeline.timeline(approval.execution_id)
            print(
                "  "
                + ", ".join(
                    f"{r.action} {(r.end - r.start).total_seconds():.2f}s" for r in rows if r.start and r.end
                )
                + f"; first action starts {(rows[0].start.timestamp() - pushed):.2f}s after the push"
                if rows and rows[0].start
                else "",
                flush=True,
            )
            # where approve -> post went: CodeDeploy's own timestamps for each lifecycle event
            print("  " + ", ".join(f"{k} {v:.2f}s" for k, v in run.breakdown().items()), flush=True)
            print(f"  traffic-shifted post {(post.at - pushed) - pending:.2f}s after the approval was seen")
    wall, wait = statistics.median(walls), statistics.median(waits)
    overhead = statistics.median(w - s for w, s in zip(walls, waits, strict=True))
    over_canary = statistics.median(w - c for w, c in zip(walls, canaries, strict=True))
    pending = statistics.median(approvals)
    print(
        f"push -> traffic-shifted chat message: median {wall:.2f} s over {len(walls)} runs "
        f"(min {min(walls):.2f}, max {max(walls):.2f}); scaled AWS waits {wait:.2f} s; overhead over "
        f"the canary interval alone {over_canary:.2f} s; "
        f"overhead {overhead:.2f} s ({'within' if overhead <= OVERHEAD_TARGET else 'OVER'} the "
        f"{OVERHEAD_TARGET} s target); push -> approval pending median {pending:.2f} s "
        f"({'within' if pending <= APPROVAL_TARGET else 'OVER'} the {APPROVAL_TARGET} s target)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
