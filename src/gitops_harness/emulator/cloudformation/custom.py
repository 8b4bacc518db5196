"""Custom resources (`AWS::CloudFormation::CustomResource`, `Custom::*`) as CloudFormation runs them:
each Create, Update and Delete sends the provider a request through its ServiceToken (a Lambda function,
invoked asynchronously, or an SNS topic) and waits for the provider to PUT its response to the request's
ResponseURL, a presigned S3 URL on this emulator. The response's PhysicalResourceId is the resource's
Ref, its Data the GetAtt values; a FAILED response (whose resource still gets a Delete on rollback) or
none within ServiceTimeout (AWS seconds, default
3600, on the emulator's time scale) fails the resource with AWS's reason.

The responses land in a bucket of CloudFormation's own account (RESPONSE_ACCOUNT), as on AWS, where
they are not in the stack's account. Inline `Code.ZipFile` functions get this project's `cfnresponse`
module beside `index.py` (`inline_code_with_cfnresponse`, a patch of moto's Lambda model).
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gitops_harness.emulator.cloudformation.resource import (
    ResourceFailure,
    client_for,
    clock_seconds,
    handler_message,
)
from gitops_harness.emulator.cloudformation.schemas import check_properties

CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"
RESPONSE_ACCOUNT = "990000000000"  # CloudFormation's own account: the response buckets live there
DEFAULT_SERVICE_TIMEOUT = 3600  # AWS seconds
_MAX_RESPONSE_BYTES = 4096
_URL_EXPIRES = 7200  # seconds a ResponseURL stays valid (beyond the longest ServiceTimeout)
_POLL_FIRST, _POLL_MAX = 0.05, 0.5  # clock seconds between looks at the response object


def is_custom(resource_type: str) -> bool:
    return resource_type == CUSTOM_RESOURCE or resource_type.startswith("Custom::")


def inline_code_with_cfnresponse(_moto_zip: Any) -> Any:
    """moto's `LambdaFunction._create_zipfile_from_plaintext_code`: index.py plus our cfnresponse.py."""

    def zip_inline_code(code: str) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
            package.writestr("index.py", code)
            package.writestr("cfnresponse.py", Path(__file__).with_name("cfnresponse.py").read_text())
        return out.getvalue()

    return staticmethod(zip_inline_code)


def _as_request_value(value: Any) -> Any:
    """CloudFormation sends ResourceProperties with every scalar as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {key: _as_request_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_request_value(item) for item in value]
    return value


def _service_timeout(properties: dict[str, Any]) -> float:
    given = properties.get("ServiceTimeout")
    if given is None:
        return DEFAULT_SERVICE_TIMEOUT
    try:
        seconds = int(str(given))
    except ValueError:
        seconds = 0
    if not 1 <= seconds <= DEFAULT_SERVICE_TIMEOUT:
        raise ResourceFailure(f"ServiceTimeout must be an integer from 1 to 3600, got {given!r}")
    return seconds


def _response_bucket(region: str) -> str:
    return f"cloudformation-custom-resource-response-{region.replace('-', '')}"


class CustomResourceFailed(ResourceFailure):
    """A FAILED response; `cleanup` sends the Delete CloudFormation sends the failed resource on rollback
    (with the PhysicalResourceId the response gave) and returns that id."""

    def __init__(self, message: str, cleanup: Callable[[], str] | None = None):
        super().__init__(message)
        self.cleanup = cleanup


class _Exchange:
    """One request to the provider and its response."""

    def __init__(self, resource_type: str, stack_id: str, logical_id: str, account_id: str, region: str):
        self.resource_type = resource_type
        self.stack_id = stack_id
        self.logical_id = logical_id
        self.account_id = account_id
        self.region = region

    def run(
        self,
        request_type: str,
        properties: dict[str, Any],
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        token = properties.get("ServiceToken")
        if not isinstance(token, str) or not token:
            raise ResourceFailure("Properties validation failed: required key [ServiceToken] not found")
        timeout = _service_timeout(properties)
        request_id = str(uuid.uuid4())
        s3 = client_for("s3", RESPONSE_ACCOUNT, self.region)
        bucket = _response_bucket(self.region)
        key = f"{self.stack_id}|{self.logical_id}|{request_id}"
        try:
            _ensure_bucket(s3, bucket, self.region)
            url = s3.generate_presigned_url(
                "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=_URL_EXPIRES
            )
        except (ClientError, BotoCoreError) as error:
            raise ResourceFailure(handler_message(error, "s3")) from None
        request: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": url,
            "StackId": self.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "ResourceProperties": _as_request_value(properties),
        }
        if physical_id is not None:
            request["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            request["OldResourceProperties"] = _as_request_value(old_properties)
        self._send(token, request)
        response = self._await(s3, bucket, key, clock_seconds(timeout), request_id)
        if response.get("Status") == "FAILED":
            failed_id = response.get("PhysicalResourceId")
            cleanup = None
            if request_type == "Create" and isinstance(failed_id, str) and failed_id:

                def cleanup() -> str:
                    self.run("Delete", properties, failed_id)
                    return failed_id

            raise CustomResourceFailed(
                "Received response status [FAILED] from custom resource. Message returned: "
                f"{response.get('Reason', '')} (RequestId: {request_id})",
                cleanup,
            )
        if response.get("Status") != "SUCCESS":
            raise ResourceFailure(f"Invalid response status [{response.get('Status')}] from custom resource")
        if not isinstance(response.get("PhysicalResourceId"), str) or not response["PhysicalResourceId"]:
            raise ResourceFailure("Invalid PhysicalResourceId")
        data = response.get("Data")
        response["Data"] = data if isinstance(data, dict) else {}
        return response

    def _send(self, token: str, request: dict[str, Any]) -> None:
        parts = token.split(":")
        service = parts[2] if token.startswith("arn:") and len(parts) > 5 else ""
        if service not in ("lambda", "sns") or parts[3] != self.region:
            raise ResourceFailure(
                f"Invalid service token [{token}]: a Lambda function or SNS topic ARN in {self.region}"
            )
        client = client_for(service, self.account_id, self.region)
        try:
            if service == "lambda":
                client.invoke(
                    FunctionName=token, InvocationType="Event", Payload=json.dumps(request).encode()
                )
            else:
                client.publish(TopicArn=token, Message=json.dumps(request))
        except (ClientError, BotoCoreError) as error:
            raise ResourceFailure(handler_message(error, service)) from None

    def _await(self, s3: Any, bucket: str, key: str, timeout: float, request_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        pause = _POLL_FIRST
        while True:
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                    raise ResourceFailure(handler_message(error, "s3")) from None
            except BotoCoreError as error:  # the emulator stopping under a waiting stack
                raise ResourceFailure(handler_message(error, "s3")) from None
            else:
                return _parsed_response(body)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ResourceFailure(
                    "CloudFormation did not receive a response from your Custom Resource. Please check "
                    f"your logs for requestId [{request_id}]. If you are using the Python cfn-response "
                    "module, you may need to update your Lambda function code so that CloudFormation "
                    "can attach the updated version."
                )
            time.sleep(min(pause, left))
            pause = min(pause * 2, _POLL_MAX)


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


def _parsed_response(body: bytes) -> dict[str, Any]:
    if len(body) > _MAX_RESPONSE_BYTES:
        raise ResourceFailure("Response object is too long.")
    try:
        response = json.loads(body)
    except ValueError:
        response = None
    if not isinstance(response, dict):
        raise ResourceFailure("Failed to parse the custom resource's response: it is not a JSON object")
    return response


class CustomResource:
    """moto's CloudFormationModel interface for a custom resource."""

    def __init__(
        self, exchange: _Exchange, physical_id: str, data: dict[str, Any], properties: dict[str, Any]
    ):
        self.exchange = exchange
        self.physical_id = physical_id
        self.data = data
        self.properties = properties
        self.cf_resource_type = exchange.resource_type
        self.logical_resource_id = exchange.logical_id

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True  # the provider's response decides which attributes exist

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.data:
            raise ResourceFailure(
                f"CustomResource attribute error: Vendor response doesn't contain {attribute_name} key "
                f"in object {self.exchange.stack_id}|{self.exchange.logical_id}"
            )
        return self.data[attribute_name]

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CustomResource:
        resource_type = kwargs.get("ResourceType") or cloudformation_json.get("Type", CUSTOM_RESOURCE)
        logical_id = kwargs.get("LogicalId", "")
        properties = cloudformation_json.get("Properties") or {}
        # Custom::* have no schema of their own (stacks.py checks CustomResource's): checked as one
        invalid = None
        if resource_type != CUSTOM_RESOURCE:
            invalid = check_properties(logical_id, CUSTOM_RESOURCE, properties, region_name)
        if invalid is not None:
            raise ResourceFailure(invalid)
        exchange = _Exchange(resource_type, kwargs.get("StackId", ""), logical_id, account_id, region_name)
        response = exchange.run("Create", properties)
        return cls(exchange, response["PhysicalResourceId"], response["Data"], properties)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CustomResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CustomResource:
        properties = cloudformation_json.get("Properties") or {}
        if properties.get("ServiceToken") != original_resource.properties.get("ServiceToken"):
            raise ResourceFailure("Modifying service token is not allowed.")
        exchange = original_resource.exchange
        response = exchange.run(
            "Update", properties, original_resource.physical_id, original_resource.properties
        )
        if response["PhysicalResourceId"] != original_resource.physical_id:
            # a new physical id is a replacement: the old one is deleted, as in CloudFormation's cleanup
            original_resource.delete(account_id, region_name)
        return cls(exchange, response["PhysicalResourceId"], response["Data"], properties)

    def delete(self, account_id: str, region_name: str) -> None:
        self.exchange.run("Delete", self.properties, self.physical_id)
