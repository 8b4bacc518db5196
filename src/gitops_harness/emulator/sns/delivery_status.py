"""SNS message delivery status logging ("Amazon SNS message delivery status"), for Lambda subscribers.

A topic asks for it with the attributes LambdaSuccessFeedbackRoleArn, LambdaFailureFeedbackRoleArn and
LambdaSuccessFeedbackSampleRate (SetTopicAttributes), or CloudFormation's DeliveryStatusLogging
(Protocol lambda; moto keeps that list on the topic as it came). For each delivery SNS writes one JSON
record into CloudWatch Logs, as the feedback role:

    group  sns/<region>/<account>/<topic>            (successes, sampled at the sample rate: unset = 0)
           sns/<region>/<account>/<topic>/Failure    (every failure)
    {"notification": {"messageMD5Sum", "messageId", "topicArn", "timestamp": "YYYY-MM-DD HH:MM:SS.mmm"},
     "delivery": {"deliveryId", "destination": <function ARN>, "providerResponse", "dwellTimeMs",
                  "attempts": 1, "statusCode"},
     "status": "SUCCESS" | "FAILURE"}

For Lambda the provider response is Lambda's answer: `{"lambdaRequestId": "<id>"}` with status code 202
(the event was accepted), or `{"ErrorCode", "ErrorMessage", "lambdaRequestId": "Unrecoverable"}` with
Lambda's error status (404 ResourceNotFoundException for a deleted function).

The record is written only if the role could write it on AWS: the role exists, its trust policy lets
sns.amazonaws.com assume it, and its identity policies allow logs:CreateLogStream and logs:PutLogEvents
on the group (and logs:CreateLogGroup when the group does not exist yet). Otherwise nothing is written,
as on AWS. The records go straight into moto's Logs backend (as Lambda's own invocation logs do): SNS
writes them, not a caller of the front door.

GetTopicAttributes answers the feedback attributes that were set (moto stores them but leaves them out).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gitops_harness.emulator.common.arns import InvalidArn, parse_arn

log = logging.getLogger(__name__)

SNS_SERVICE = "sns.amazonaws.com"
# attribute prefix per protocol (SetTopicAttributes) and CloudFormation's LoggingConfig.Protocol
PROTOCOLS = {
    "HTTP": "http/s",
    "SQS": "sqs",
    "Lambda": "lambda",
    "Firehose": "firehose",
    "Application": "application",
}
FEEDBACK_KEYS = ("SuccessFeedbackRoleArn", "FailureFeedbackRoleArn", "SuccessFeedbackSampleRate")
_STORE_LOCK = threading.Lock()  # moto's Logs backend is not thread-safe
_random = random.Random()  # the sampling draw; tests seed or replace it


@dataclass(frozen=True)
class DeliveryOutcome:
    succeeded: bool
    status_code: int
    provider_response: str  # Lambda's answer, as JSON text
    dwell_ms: int  # publish -> hand-off to Lambda

    @classmethod
    def accepted(cls, request_id: str, published: float) -> DeliveryOutcome:
        return cls(True, 202, json.dumps({"lambdaRequestId": request_id}), _dwell(published))

    @classmethod
    def failed(cls, status: int, code: str, message: str, published: float) -> DeliveryOutcome:
        response = {"ErrorCode": code, "ErrorMessage": message, "lambdaRequestId": "Unrecoverable"}
        return cls(False, status, json.dumps(response), _dwell(published))


def _dwell(published: float) -> int:
    return max(0, round((time.time() - published) * 1000))


def feedback_attributes(topic: Any) -> dict[str, str]:
    """The delivery status attributes a topic has, by their SetTopicAttributes names."""
    from moto.core.utils import camelcase_to_underscores

    found: dict[str, str] = {}
    by_protocol = {protocol: prefix for prefix, protocol in PROTOCOLS.items()}
    for config in getattr(topic, "delivery_status_logging", None) or []:
        prefix = (
            by_protocol.get(str(config.get("Protocol", "")).lower()) if isinstance(config, dict) else None
        )
        if prefix is None:
            continue
        for key in FEEDBACK_KEYS:
            if config.get(key) not in (None, ""):
                found[prefix + key] = str(config[key])
    for prefix in PROTOCOLS:
        for key in FEEDBACK_KEYS:
            value = getattr(topic, camelcase_to_underscores(prefix + key), None)
            if value not in (None, ""):
                found[prefix + key] = str(value)
    return found


def record_delivery(
    topic: Any, destination: str, message: str, message_id: str, outcome: DeliveryOutcome
) -> None:
    """Write the delivery status record of one Lambda delivery, when the topic asks for one."""
    attributes = feedback_attributes(topic)
    if outcome.succeeded:
        role = attributes.get("LambdaSuccessFeedbackRoleArn")
        try:
            rate = float(attributes.get("LambdaSuccessFeedbackSampleRate", "0"))
        except ValueError:
            rate = 0.0
        if not role or _random.uniform(0, 100) >= rate:
            return
    else:
        role = attributes.get("LambdaFailureFeedbackRoleArn")
        if not role:
            return
    _, region, account, name = parse_arn(topic.arn).parts
    group = f"sns/{region}/{account}/{name}" + ("" if outcome.succeeded else "/Failure")
    now = datetime.now(UTC)
    record = {
        "notification": {
            "messageMD5Sum": hashlib.md5(message.encode("utf-8"), usedforsecurity=False).hexdigest(),
            "messageId": message_id,
            "topicArn": topic.arn,
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond // 1000:03d}",
        },
        "delivery": {
            "deliveryId": str(uuid.uuid4()),
            "destination": destination,
            "providerResponse": outcome.provider_response,
            "dwellTimeMs": outcome.dwell_ms,
            "attempts": 1,
            "statusCode": outcome.status_code,
        },
        "status": "SUCCESS" if outcome.succeeded else "FAILURE",
    }
    stream = str(uuid.uuid4())
    with _STORE_LOCK:
        from moto.logs.models import logs_backends

        backend = logs_backends[account][region]
        exists = group in backend.groups
        refusal = role_may_not_log(role, topic.arn, group, stream, create_group=not exists)
        if refusal:
            log.info("no delivery status record for %s in %s: %s", message_id, group, refusal)
            return
        backend.ensure_log_group(group)
        backend.ensure_log_stream(group, stream)
        backend.put_log_events(
            group, stream, [{"timestamp": int(now.timestamp() * 1000), "message": json.dumps(record)}]
        )


def role_may_not_log(
    role_arn: str, topic_arn: str, group: str, stream: str, *, create_group: bool
) -> str | None:
    """Why SNS could not write to `group` as `role_arn` (None: it can): trust and identity policies."""
    from gitops_harness.emulator.iam.policy import Request, evaluate, evaluate_all, statements
    from gitops_harness.emulator.iam.principals import Principal, find_role, identity_documents

    try:
        arn = parse_arn(role_arn)
    except InvalidArn:
        return f"{role_arn} is not a role ARN"
    topic = parse_arn(topic_arn)
    role = (
        find_role(arn.account, arn.resource.rsplit("/", 1)[-1]) if arn.resource.startswith("role/") else None
    )
    if role is None:
        return f"role {role_arn} does not exist"
    # only statements naming SNS as the service count: any Service principal is not enough here
    trusted = [
        statement
        for statement in statements(role.assume_role_policy_document)
        if isinstance(statement.get("Principal"), dict)
        and SNS_SERVICE in _values(statement["Principal"].get("Service"))
    ]
    service = Principal(topic.account, f"arn:aws:iam::{topic.account}:root", SNS_SERVICE, "root")
    context = {"aws:sourceaccount": [topic.account], "aws:sourcearn": [topic_arn]}
    assume = Request("sts:AssumeRole", str(role.arn), context, as_service=True)
    if not evaluate({"Statement": trusted}, assume, principal=service).allowed:
        return f"the trust policy of {role_arn} does not let {SNS_SERVICE} assume it"
    principal = Principal(arn.account, role_arn, str(role.arn), "role", role.name)
    documents = identity_documents(principal)
    group_arn = f"arn:aws:logs:{topic.region}:{topic.account}:log-group:{group}"
    stream_arn = f"{group_arn}:log-stream:{stream}"
    needed = [("logs:CreateLogStream", stream_arn), ("logs:PutLogEvents", stream_arn)]
    if create_group:
        needed.insert(0, ("logs:CreateLogGroup", group_arn))
    for action, resource in needed:
        if not evaluate_all(documents, Request(action, resource, principal.context())).allowed:
            return f"{role_arn} is not allowed {action} on {resource}"
    return None


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def with_feedback_attributes(original: Any) -> Any:
    """moto_patches replacement for moto.sns.responses.SNSResponse.get_topic_attributes."""

    def get_topic_attributes(self: Any) -> Any:
        answer = original(self)
        result = getattr(answer, "result", None)
        if isinstance(result, dict) and isinstance(result.get("Attributes"), dict):
            topic = self.backend.get_topic(self._get_param("TopicArn"))
            result["Attributes"].update(feedback_attributes(topic))
        return answer

    return get_topic_attributes
