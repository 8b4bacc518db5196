"""Shape-test requests for every CodeStar Notifications operation: a rule on a CodeBuild project with an
SNS and a Slack target."""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.codestar_notifications.plane import CodeStarNotifications
from shape_samples import Sample


def samples(plane: CodeStarNotifications) -> list[Sample]:
    topic = "arn:aws:sns:us-east-1:111111111111:shape-notifications"
    slack = "arn:aws:chatbot::111111111111:chat-configuration/slack-channel/shapes"

    def arn(answers: dict[str, dict[str, Any]]) -> str:
        return answers["CreateNotificationRule"]["Arn"]

    return [
        Sample(
            "CreateNotificationRule",
            {
                "Name": "shape-build",
                "Resource": "arn:aws:codebuild:us-east-1:111111111111:project/shape",
                "EventTypeIds": ["codebuild-project-build-state-failed"],
                "Targets": [{"TargetType": "SNS", "TargetAddress": topic}],
                "DetailType": "FULL",
                "Tags": {"team": "shapes"},
            },
        ),
        Sample("DescribeNotificationRule", lambda a: {"Arn": arn(a)}),
        Sample("ListNotificationRules", {"Filters": [{"Name": "TARGET_ADDRESS", "Value": topic}]}),
        Sample(
            "UpdateNotificationRule",
            lambda a: {"Arn": arn(a), "Status": "DISABLED", "DetailType": "BASIC"},
        ),
        Sample(
            "Subscribe",
            lambda a: {
                "Arn": arn(a),
                "Target": {"TargetType": "AWSChatbotSlack", "TargetAddress": slack},
            },
        ),
        Sample("ListTargets", {"MaxResults": 1}),
        Sample("Unsubscribe", lambda a: {"Arn": arn(a), "TargetAddress": slack}),
        Sample("ListEventTypes", {"Filters": [{"Name": "SERVICE_NAME", "Value": "CodeBuild"}]}),
        Sample("TagResource", lambda a: {"Arn": arn(a), "Tags": {"env": "test"}}),
        Sample("UntagResource", lambda a: {"Arn": arn(a), "TagKeys": ["env"]}),
        Sample("ListTagsForResource", lambda a: {"Arn": arn(a)}),
        Sample("DeleteTarget", {"TargetAddress": topic, "ForceUnsubscribeAll": True}),
        Sample("DeleteNotificationRule", lambda a: {"Arn": arn(a)}),
    ]
