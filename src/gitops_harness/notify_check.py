"""The notify verdict of `gitops-harness run`: did chat get the build-finished, approval-needed and
traffic-shifted messages for this run's commit, the last one after prod was 100 % green and before the
deployment ended, exactly once?

On a target with its own chat receiver (capability chat-receiver: the embedded target) the evidence is the
receiver's record; each wait has a deadline and a failure names the message waited for and what arrived.
Elsewhere (a real account) the evidence is what the account offers: the chat notifier's own log lines in
CloudWatch Logs ("posted build notification", "reported Succeeded for deployment <id> hook (posted=True)").

Neither the messages nor this verdict ever show the webhook URL (ChatReceiver.describe redacts it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gitops_harness.report import TimelineEntry, Verdict
from gitops_harness.waiting import WaitTimeout, wait_until_e

NOTIFY_CLAIM = "chat gets the build-finished, approval-needed and traffic-shifted messages"
NOTIFY_NEEDS = frozenset({"chat", "sns", "lambda-invoke"})
CHAT_DEADLINE = 60.0  # wall seconds from the event to its post: SNS, a Lambda start, one retry
TIMELINE_STAGE = "Chat"


@dataclass
class ChatWatch:
    """What one run expects in chat, from its push on."""

    target: Any
    deployment: Any  # stacks.Deployment
    commit: str
    started: float = field(default_factory=time.time)

    def judge(self, release: Any | None) -> tuple[Verdict, list[TimelineEntry]]:
        """The verdict and a timeline row per chat post; ``release`` (release.ReleaseRun) or None when the
        target has no blue/green (then only the build and approval messages are checked)."""
        if self.target.chat is not None:
            return self._judge_receiver(release)
        return self._judge_logs(release)

    # -- the embedded target: the receiver's record ------------------------------------------------

    def _judge_receiver(self, release: Any | None) -> tuple[Verdict, list[TimelineEntry]]:
        chat = self.target.chat
        stacks = self.deployment
        expected = [
            ("build finished", ("Build finished", stacks.build_project, self.commit)),
            ("approval needed", ("Approval needed", stacks.pipeline_name)),
        ]
        if release is not None:
            expected.append(("traffic shifted", ("Traffic shift complete", release.deployment.id)))
        rows: list[TimelineEntry] = []
        posts = {}
        for name, needles in expected:
            try:
                [post] = chat.wait_for(
                    lambda p, n=needles: p.at >= self.started and all(x in p.text for x in n),
                    timeout=CHAT_DEADLINE,
                    describe=f"the {name} post ({', '.join(needles)})",
                )
            except WaitTimeout as exc:
                return self._failed(f"step '{name}': {exc}", rows), rows
            posts[name] = post
            at = datetime.fromtimestamp(post.at, UTC)
            rows.append(TimelineEntry(TIMELINE_STAGE, f"post: {name}", "Delivered", at, at))
        if release is None:
            return Verdict("notify", NOTIFY_CLAIM, True, f"{len(posts)} message(s) delivered"), rows
        problems = self._shift_problems(release, posts["traffic shifted"])
        duplicates = chat.delivered(
            lambda p: (
                p.at >= self.started
                and "Traffic shift complete" in p.text
                and release.deployment.id in p.text
            )
        )
        if len(duplicates) != 1:
            problems.append(f"the traffic-shifted message arrived {len(duplicates)} times, not once")
        if problems:
            return self._failed(f"step 'traffic shifted': {problems[0]}", rows), rows
        attempts = len(chat.posts(lambda p: p.at >= self.started))
        return (
            Verdict(
                "notify",
                NOTIFY_CLAIM,
                True,
                f"{len(posts)} messages delivered ({attempts} post(s) seen since the push)",
            ),
            rows,
        )

    @staticmethod
    def _shift_problems(release: Any, post: Any) -> list[str]:
        posted = datetime.fromtimestamp(post.at, UTC)
        green = [s.at for s in release.weight_steps if s.green >= 100.0]
        problems = []
        if not green:
            problems.append("prod was never seen at 100% green")
        elif posted < green[0]:
            problems.append(
                f"posted at {posted:%H:%M:%S.%f}, before prod was 100% green ({green[0]:%H:%M:%S.%f})"
            )
        complete = release.info.get("completeTime")
        if complete and posted > complete:
            problems.append(
                f"posted at {posted:%H:%M:%S.%f}, after the deployment ended ({complete:%H:%M:%S.%f})"
            )
        return problems

    def _failed(self, detail: str, rows: list[TimelineEntry]) -> Verdict:
        return Verdict(
            "notify",
            NOTIFY_CLAIM,
            False,
            detail,
            where_to_look=f"aws logs tail /aws/lambda/{self.deployment.chat_notifier_function}",
        )

    # -- a real account: the notifier's log lines -----------------------------------------------------

    def _judge_logs(self, release: Any | None) -> tuple[Verdict, list[TimelineEntry]]:
        logs = self.target.client("logs", "pipeline")
        group = f"/aws/lambda/{self.deployment.chat_notifier_function}"
        lines = ['"posted build notification"']
        if release is not None:
            lines.append(f'"reported Succeeded for deployment {release.deployment.id} hook (posted=True)"')
        rows: list[TimelineEntry] = []
        for pattern in lines:

            def found(p: str = pattern) -> list[dict[str, Any]]:
                return logs.filter_log_events(
                    logGroupName=group, filterPattern=p, startTime=int(self.started * 1000)
                ).get("events", [])

            events, error = wait_until_e(
                found,
                timeout=CHAT_DEADLINE,
                describe_expected=f"{pattern} in {group}",
                describe_seen=lambda e: f"{len(e)} matching line(s)",
            )
            if error is not None:
                return self._failed(str(error), rows), rows
            at = datetime.fromtimestamp(events[0]["timestamp"] / 1000, UTC)
            rows.append(TimelineEntry(TIMELINE_STAGE, f"log: {pattern.strip(chr(34))}", "Logged", at, at))
        return Verdict("notify", NOTIFY_CLAIM, True, f"the notifier logged {len(rows)} delivery(ies)"), rows
