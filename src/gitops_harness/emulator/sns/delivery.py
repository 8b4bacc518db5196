"""SNS delivery to Lambda subscribers as AWS does it, where moto 5.2.5 does not.

moto's `Subscription.publish` hands a Lambda subscriber to `LambdaBackend.send_sns_message`, which
builds the event with placeholders (MessageId "95df01b4-...", TopicArn "arn:aws:sns:EXAMPLE", made-up
message attributes) and invokes synchronously inside the Publish request; a subscribed function that no
longer exists fails the whole Publish. Here (moto_patches group "sns") a Lambda subscription is delivered:
- with the event AWS sends (Records[0].Sns: the real MessageId, TopicArn, Subject (null when none),
  Timestamp, the publisher's MessageAttributes; EventSubscriptionArn the subscription's ARN);
- asynchronously (InvocationType Event: the publish never waits for the function), through the Lambda
  executor (lambda_runtime.moto_hook.invoke_for_service);
- with its outcome written as a delivery status record when the topic asks for them
  (delivery_status.py): SUCCESS with Lambda's 202 and request id, or FAILURE with Lambda's error.
A subscriber that cannot be reached never fails the Publish. Filter policies and MessageStructure json
are applied as moto applies them. Other protocols are moto's.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from gitops_harness.emulator.sns.delivery_status import DeliveryOutcome, record_delivery

log = logging.getLogger(__name__)


def publishing(original: Any) -> Any:
    """moto_patches replacement for moto.sns.models.Subscription.publish."""

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol != "lambda":
            return original(
                self,
                message,
                message_id,
                subject=subject,
                message_attributes=message_attributes,
                group_id=group_id,
                deduplication_id=deduplication_id,
                message_structure=message_structure,
            )
        published = time.time()
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        outcome = deliver_to_lambda(self, message, message_id, subject, message_attributes, published)
        record_delivery(self.topic, self.endpoint, message, message_id, outcome)
        return None

    return publish


def sns_event(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: dict[str, Any] | None,
    published: float,
) -> dict[str, Any]:
    """The event SNS invokes a subscribed function with (Lambda's "Using Lambda with Amazon SNS")."""
    topic = subscription.topic
    region = topic.arn.split(":")[3]
    endpoint = f"https://sns.{region}.amazonaws.com"
    stamp = datetime.fromtimestamp(published, UTC)
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
                    # not signed: nothing here holds SNS's signing key
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": f"{endpoint}/SimpleNotificationService-embedded.pem",
                    "MessageId": message_id,
                    "Message": message,
                    "MessageAttributes": {
                        name: {"Type": value.get("Type", "String"), "Value": value.get("Value")}
                        for name, value in (message_attributes or {}).items()
                    },
                    "Type": "Notification",
                    "UnsubscribeUrl": f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
                    "TopicArn": topic.arn,
                    "Subject": subject,
                },
            }
        ]
    }


def deliver_to_lambda(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: dict[str, Any] | None,
    published: float,
) -> DeliveryOutcome:
    """Invoke the subscribed function asynchronously; what Lambda answered SNS."""
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.utils import get_backend

    from gitops_harness.emulator.lambda_runtime.executor import UnrunnableFunction
    from gitops_harness.emulator.lambda_runtime.moto_hook import invoke_for_service

    endpoint = subscription.endpoint
    parts = endpoint.split(":")
    event = json.dumps(
        sns_event(subscription, message, message_id, subject, message_attributes, published)
    ).encode("utf-8")
    try:
        if len(parts) not in (7, 8) or parts[5] != "function":
            raise LambdaClientError("InvalidParameterValueException", f"{endpoint} is not a function ARN")
        # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        backend = get_backend(parts[4], parts[3])
        function = backend._lambdas.get_function_by_name_or_arn_with_qualifier(
            parts[6], parts[7] if len(parts) == 8 else None
        )
        request_id = invoke_for_service(function, event)
    except LambdaClientError as exc:
        status = int(getattr(exc, "code", 400) or 400)
        return DeliveryOutcome.failed(status, exc.error_type, exc.message, published)
    except UnrunnableFunction as exc:
        return DeliveryOutcome.failed(exc.status, exc.code, exc.message, published)
    except Exception as exc:  # a subscriber must never fail the publish
        log.warning("SNS delivery of %s to %s failed: %s", message_id, endpoint, exc)
        return DeliveryOutcome.failed(500, "ServiceException", str(exc), published)
    return DeliveryOutcome.accepted(request_id, published)
