"""Sending one notification to one target, as the codestar-notifications service principal.

moto's SNS does not evaluate topic policies, so before publishing this module asks what AWS asks:
does the topic's policy let `codestar-notifications.amazonaws.com` call sns:Publish (with the rule's
account as aws:SourceAccount and the rule as aws:SourceArn), and, for a topic encrypted with a KMS key,
does the key policy let the service use the key through SNS (kms:ViaService sns.<region>.amazonaws.com)?
A "no" makes the target UNREACHABLE and nothing is published, as on AWS. The publish itself goes through
the front door as the topic's account (moto answers it), so SNS subscriptions deliver as usual.

AWSChatbotSlack targets are recorded, not sent: there is no Slack here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from gitops_harness.emulator.common.arns import parse_arn
from gitops_harness.emulator.eventbridge.policy import Decision, evaluate

if TYPE_CHECKING:
    from gitops_harness.emulator.clients import RoleClients

SERVICE_PRINCIPAL = "codestar-notifications.amazonaws.com"
SNS = "SNS"
SLACK = "AWSChatbotSlack"


@dataclass(frozen=True)
class Outcome:
    """What happened to one notification for one target (kept in the plane's delivery log)."""

    rule_arn: str
    target_type: str
    target_address: str
    event_id: str | None
    delivered: bool
    detail: str  # the SNS MessageId, or why nothing was sent
    message: Mapping[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_arn,
            "target_type": self.target_type,
            "target": self.target_address,
            "event_id": self.event_id,
            "outcome": "delivered" if self.delivered else "failed",
            "detail": self.detail,
            "message": dict(self.message),
            "time": self.time,
        }


def _error(error: ClientError) -> str:
    err = error.response.get("Error", {})
    return f"{err.get('Code')}: {err.get('Message')}"


class TargetSender:
    def __init__(self, clients: RoleClients):
        self.clients = clients

    def check_sns(self, topic_arn: str, *, rule_account: str, rule_arn: str) -> Decision:
        """Whether CodeStar Notifications could publish to the topic for this rule."""
        try:
            _, region, account, _ = parse_arn(topic_arn).parts
        except ValueError as error:
            return Decision(False, str(error))
        try:
            sns = self.clients.for_account("sns", account, region)
            attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
        except ClientError as error:
            return Decision(False, f"cannot read topic {topic_arn}: {_error(error)}")
        except BotoCoreError as error:
            return Decision(False, f"cannot read topic {topic_arn}: {error}")
        context = {"aws:SourceAccount": rule_account, "aws:SourceArn": rule_arn}
        decision = evaluate(
            attributes.get("Policy"),
            action="sns:Publish",
            resource=topic_arn,
            account=None,
            service=SERVICE_PRINCIPAL,
            context=context,
        )
        if not decision.allowed:
            return Decision(
                False,
                f"the policy of {topic_arn} does not allow {SERVICE_PRINCIPAL} sns:Publish: {decision.reason}",
            )
        key_id = attributes.get("KmsMasterKeyId")
        if key_id:
            return self._check_key(key_id, account=account, region=region, context=context)
        return decision

    def _check_key(self, key_id: str, *, account: str, region: str, context: Mapping[str, str]) -> Decision:
        key_account = parse_arn(key_id).parts[2] if key_id.startswith("arn:") else account
        try:
            kms = self.clients.for_account("kms", key_account, region)
            metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
            if metadata.get("KeyManager") == "AWS":
                # AWS managed keys (aws/sns) cannot grant a service principal: SNS cannot encrypt for it
                return Decision(
                    False, f"the topic's key {key_id} is AWS managed; {SERVICE_PRINCIPAL} cannot use it"
                )
            policy = kms.get_key_policy(KeyId=metadata["KeyId"], PolicyName="default")["Policy"]
        except ClientError as error:
            return Decision(False, f"cannot use the topic's key {key_id}: {_error(error)}")
        except BotoCoreError as error:
            return Decision(False, f"cannot use the topic's key {key_id}: {error}")
        decision = evaluate(
            policy,
            action="kms:GenerateDataKey",
            resource=metadata["Arn"],
            account=None,
            service=SERVICE_PRINCIPAL,
            context={**context, "kms:ViaService": f"sns.{region}.amazonaws.com"},
        )
        if not decision.allowed:
            return Decision(
                False,
                f"the policy of key {metadata['Arn']} does not allow {SERVICE_PRINCIPAL} "
                f"kms:GenerateDataKey via SNS: {decision.reason}",
            )
        return decision

    def send(
        self,
        *,
        rule_arn: str,
        rule_account: str,
        target_type: str,
        target_address: str,
        message: Mapping[str, Any],
        rendered: str,
        event_id: str | None,
    ) -> Outcome:
        def outcome(delivered: bool, detail: str) -> Outcome:
            return Outcome(rule_arn, target_type, target_address, event_id, delivered, detail, message)

        if target_type == SLACK:
            return outcome(True, "recorded (AWS Chatbot is not emulated: nothing is posted to Slack)")
        decision = self.check_sns(target_address, rule_account=rule_account, rule_arn=rule_arn)
        if not decision.allowed:
            return outcome(False, decision.reason)
        _, region, account, _ = parse_arn(target_address).parts
        try:
            sns = self.clients.for_account("sns", account, region)
            answer = sns.publish(TopicArn=target_address, Message=rendered)
        except ClientError as error:
            return outcome(False, f"sns:Publish to {target_address}: {_error(error)}")
        except BotoCoreError as error:
            return outcome(False, f"sns:Publish to {target_address}: {error}")
        return outcome(True, str(answer.get("MessageId")))
