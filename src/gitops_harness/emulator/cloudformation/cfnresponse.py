"""The `cfnresponse` module CloudFormation puts beside inline (`Code.ZipFile`) Python functions, written
for this project from AWS's documented behaviour: `send` PUTs the custom resource's response as JSON
to the request's presigned ResponseURL and reports, never raises, a failed PUT.

This file is copied into the function's package (as `cfnresponse.py`); it runs inside the function's
process, so it uses the standard library only.
"""

import json
import urllib.request

SUCCESS = "SUCCESS"
FAILED = "FAILED"


def send(event, context, responseStatus, responseData, physicalResourceId=None, noEcho=False, reason=None):
    log_stream = getattr(context, "log_stream_name", "")
    body = json.dumps(
        {
            "Status": responseStatus,
            "Reason": reason or f"See the details in CloudWatch Log Stream: {log_stream}",
            "PhysicalResourceId": physicalResourceId or log_stream,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": noEcho,
            "Data": responseData,
        }
    ).encode()
    print(f"Response body:\n{body.decode()}")
    # An empty content type: the presigned URL was signed without one
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"content-type": "", "content-length": str(len(body))},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            print(f"Status code: {answer.status}")
    except Exception as error:  # the function's outcome must not depend on the response's delivery
        print(f"Sending the response to the ResponseURL failed: {error}")
