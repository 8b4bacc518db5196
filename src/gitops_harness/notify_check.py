"""The notify verdict of `gitops-harness run`: did chat get the build-finished, approval-needed and
traffic-shifted messages for this run's commit, the last one after prod was 100 % green and before the
deployment ended, exactly once?

On a target with its own chat receiver (capability chat-receiver: the embedded target) the evidence is the
receiver's record; each wait has a deadline and a failure names the message waited for and what arrived.
Elsewhere (a real account) the evidence is what the account records:
- the chat notifier's own log lines in CloudWatch Logs ("posted build notification (SNS message <id>)",
  "posted approval-needed notification (...)", "reported Succeeded for deployment <id> hook (posted=True)");
- for the messages that came through the notification topic, SNS's delivery status record of that SNS
  message id (sns_delivery.py): SUCCESS with Lambda's status code, or FAILURE with its provider response;
  when the notifier logged nothing, SNS's failures (or successes) since the push say which side lost it;
- with chat.slack set, the messages read back from the Slack channel (slack_readback.py), found by the
  commit, the execution id and the deployment id they carry.

Neither the messages nor this verdict ever show the webhook URL (ChatReceiver.describe redacts it) or
the Slack token.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.report import TimelineEntry, Verdict
from gitops_harness.slack_readback import SlackChannel, SlackReadBackError, SlackSettings, matching
from gitops_harness.sns_delivery import DeliveryRecord, DeliveryStatusLog, FeedbackSettings
from gitops_harness.stacks import StackError
from gitops_harness.waiting import WaitTimeout, wait_until_e

NOTIFY_CLAIM = "chat gets the build-finished, approval-needed and traffic-shifted messages"
NOTIFY_NEEDS = frozenset({"chat", "sns", "lambda-invoke"})
CHAT_DEADLINE = 60.0  # wall seconds from the event to its post: SNS, a Lambda start, one retry
TIMELINE_STAGE = "Chat"
_SNS_MESSAGE = re.compile(r"\(SNS message ([0-9a-f-]{36})\)")


@dataclass
class ChatWatch:
    """What one run expects in chat, from its push on."""

    target: Any
    deployment: Any  # stacks.Deployment
    commit: str
    started: float = field(default_factory=time.time)
    slack: SlackSettings | None = None  # read the messages back from Slack (a real account only)
    execution_id: str | None = None  # the pipeline execution of the push, once it is known

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
        detail = f"{len(posts)} messages delivered ({attempts} post(s) seen since the push)"
        return Verdict("notify", NOTIFY_CLAIM, True, detail + self._sns_summary()), rows

    def _sns_summary(self) -> str:
        """What SNS logged about its deliveries to the notifier since the push (the embedded AWS writes
        delivery status records too): evidence only, "" when the topic logs none or cannot be read."""
        try:
            sns_log = self._delivery_status_log()
            if not sns_log.settings().success_role:
                return ""
            delivered, failed = sns_log.records(), sns_log.failures()
        except (ClientError, StackError, AttributeError):
            return ""
        codes = sorted({str(r.status_code) for r in delivered})
        return (
            f"; SNS delivery status: {len(delivered)} SUCCESS ({', '.join(codes) or '-'}), "
            f"{len(failed)} FAILURE to the notifier"
        )

    def _delivery_status_log(self) -> DeliveryStatusLog:
        return DeliveryStatusLog(
            self.target.client("sns", "pipeline"),
            self.target.client("logs", "pipeline"),
            self.deployment.notification_topic_arn,
            self.deployment.chat_notifier_function,
            self.started,
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

    def _failed(self, detail: str, rows: list[TimelineEntry], where: str | None = None) -> Verdict:
        return Verdict(
            "notify",
            NOTIFY_CLAIM,
            False,
            detail,
            where_to_look=where or f"aws logs tail /aws/lambda/{self.deployment.chat_notifier_function}",
        )

    # -- a real account: the notifier's log lines, SNS's delivery status, Slack ------------------------

    def _judge_logs(self, release: Any | None) -> tuple[Verdict, list[TimelineEntry]]:
        logs = self.target.client("logs", "pipeline")
        group = f"/aws/lambda/{self.deployment.chat_notifier_function}"
        sns_log = self._delivery_status_log()
        # (name, the notifier's line, whether the message came through the notification topic)
        expected = [
            ("build finished", '"posted build notification"', True),
            ("approval needed", '"posted approval-needed notification"', True),
        ]
        if release is not None:  # the AfterAllowTraffic hook: CodeDeploy invokes the notifier, not SNS
            pattern = f'"reported Succeeded for deployment {release.deployment.id} hook (posted=True)"'
            expected.append(("traffic shifted", pattern, False))
        rows: list[TimelineEntry] = []
        evidence: list[str] = []
        try:
            settings = sns_log.settings()
        except ClientError as exc:  # the role may not read it: the log lines still count, said below
            settings = FeedbackSettings(None, None, 0.0)
            evidence_note = f"; SNS delivery status not read: GetTopicAttributes on {sns_log.topic_arn}: {_aws_error(exc)}"
        else:
            evidence_note = ""
        for name, pattern, via_sns in expected:

            def found(p: str = pattern) -> list[dict[str, Any]]:
                try:
                    return logs.filter_log_events(
                        logGroupName=group, filterPattern=p, startTime=int(self.started * 1000)
                    ).get("events", [])
                except logs.exceptions.ResourceNotFoundException:
                    return []  # the function has not run yet (Lambda creates its group on first use)

            events, error = wait_until_e(
                found,
                timeout=CHAT_DEADLINE,
                describe_expected=f"{pattern} in {group}",
                describe_seen=lambda e: f"{len(e)} matching line(s)",
            )
            if error is not None:
                why = self._sns_explains(sns_log) if via_sns else ""
                return self._failed(f"step '{name}': {error}{why}", rows), rows
            line = events[0]
            at = datetime.fromtimestamp(line["timestamp"] / 1000, UTC)
            rows.append(TimelineEntry(TIMELINE_STAGE, f"log: {name}", "Logged", at, at))
            if not via_sns:
                continue
            message_id = _sns_message_id(line.get("message", ""))
            if message_id is None or not (settings.success_role or settings.failure_role):
                continue  # an older notifier, or a topic without delivery status logging: said below
            record, problem = self._delivery_record(sns_log, message_id, settings)
            if problem:
                return self._failed(f"step '{name}': {problem}", rows), rows
            if record is not None:
                rows.append(
                    TimelineEntry(
                        TIMELINE_STAGE, f"sns: {name}", record.describe().split(" (")[0], record.at, record.at
                    )
                )
                evidence.append(f"{name} {record.describe()}")
        detail = f"the notifier logged {len(rows) - len(evidence)} delivery(ies)"
        if evidence:
            detail += f"; SNS delivery status ({sns_log.group}): " + ", ".join(evidence)
        elif evidence_note:
            detail += evidence_note
        elif not (settings.success_role or settings.failure_role):
            detail += f"; SNS delivery status not logged: topic {sns_log.topic_arn} has no LambdaSuccessFeedbackRoleArn"
        if self.slack is not None:
            read_back, problem = self._read_back(release)
            if problem:
                return self._failed(problem, rows, where=f"Slack channel {self.slack.channel}"), rows
            detail += f"; {read_back}"
        return Verdict("notify", NOTIFY_CLAIM, True, detail), rows

    @staticmethod
    def _delivery_record(
        sns_log: DeliveryStatusLog, message_id: str, settings: FeedbackSettings
    ) -> tuple[DeliveryRecord | None, str | None]:
        """SNS's record of one message: (record, None); (None, why) when it failed or should be there."""
        try:
            record, error = wait_until_e(
                lambda: sns_log.find(message_id),
                timeout=CHAT_DEADLINE if settings.logs_every_success else 0,
                describe_expected=f"the delivery status record of SNS message {message_id} in {sns_log.group}",
                describe_seen=lambda r: "none",
                accept=lambda r: r is not None,
            )
        except ClientError as exc:
            return None, f"cannot read SNS delivery status in {sns_log.group}: {_aws_error(exc)}"
        if record is not None and not record.succeeded:
            return None, f"SNS delivered message {message_id} with {record.describe()}"
        if record is None and settings.logs_every_success:
            return None, f"{error} (LambdaSuccessFeedbackSampleRate {settings.sample_rate:g})"
        return record, None  # None: not sampled at a rate below 100

    @staticmethod
    def _sns_explains(sns_log: DeliveryStatusLog) -> str:
        """Why the notifier may have logged nothing, from SNS's side: its failures, or its successes."""
        try:
            failures = sns_log.failures()
            delivered = [] if failures else sns_log.records()
        except ClientError:
            return ""
        if failures:
            last = failures[-1]
            return f"; SNS could not deliver {len(failures)} message(s) to the notifier, the last {last.message_id}: {last.describe()}"
        if delivered:
            return f"; SNS delivered {len(delivered)} message(s) to the notifier ({delivered[-1].describe()}): see its log"
        return ""

    def _read_back(self, release: Any | None) -> tuple[str, str | None]:
        """(what was read back, None) or ("", the one-line problem)."""
        assert self.slack is not None
        wanted = [("build finished", ("Build finished", self.commit))]
        approval: tuple[str, ...] = ("Approval needed", self.deployment.pipeline_name)
        wanted.append(("approval needed", (*approval, self.execution_id) if self.execution_id else approval))
        if release is not None:
            wanted.append(("traffic shifted", ("Traffic shift complete", release.deployment.id)))

        def missing(messages: list[dict[str, Any]]) -> list[str]:
            return [name for name, needles in wanted if not matching(messages, needles)]

        try:
            channel = SlackChannel(self.slack)
            messages, error = wait_until_e(
                lambda: channel.history(self.started),
                timeout=CHAT_DEADLINE,
                describe_expected=f"the {', '.join(n for n, _ in wanted)} messages in Slack channel {self.slack.channel}",
                describe_seen=lambda m: (
                    f"{len(m)} message(s) since the run started, without {', '.join(missing(m))}"
                ),
                accept=lambda m: not missing(m),
                interval=1.0,
                max_interval=5.0,
            )
        except SlackReadBackError as exc:
            return "", f"Slack read-back: {exc}"
        if error is not None:
            return "", f"Slack read-back: {error}"
        assert messages is not None
        return (
            f"Slack channel {self.slack.channel} has them ({len(messages)} message(s) since the run started)",
            None,
        )


def _aws_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', '?')}: {error.get('Message', '')}".strip()


def _sns_message_id(line: str) -> str | None:
    """The SNS message id the notifier logs with a post: "... (SNS message <id>)"."""
    matched = _SNS_MESSAGE.search(line)
    return matched.group(1) if matched else None
