"""IAM enforcement in the front door: role trust, the artifact bucket policy and the KMS key policy across
accounts, through boto3 against the running emulator and through the emulator's RoleClients."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from gitops_harness.emulator.clients import RoleClients
from gitops_harness.emulator.iam.conditions import conditions_hold
from gitops_harness.emulator.iam.policy import Request, evaluate
from gitops_harness.emulator.iam.principals import Principal
from gitops_harness.emulator.testing import running_emulator

MGMT, PIPE, OTHER = "131313131313", "242424242424", "353535353535"  # accounts no other test uses
REGION = "us-east-1"
BUCKET = f"iamx-artifacts-{PIPE}"
PIPELINE_ROLE = f"arn:aws:iam::{PIPE}:role/iamx-pipeline"
SOURCE_ROLE = f"arn:aws:iam::{MGMT}:role/iamx-source"
WRITER_ROLE = f"arn:aws:iam::{MGMT}:role/iamx-writer"
NOPERM_ROLE = f"arn:aws:iam::{MGMT}:role/iamx-noperm"


def _trust(principal: dict, condition: dict | None = None) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _allow(actions: list[str], resource: str, condition: dict | None = None) -> str:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _role(iam, name: str, trust: str, policy: str | None = None) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy)
    return arn


def _creds(answer: dict) -> dict:
    c = answer["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def _denied(call, code: str = "AccessDenied") -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == code, caught.value.response
    return caught.value.response["Error"].get("Message", "")


KMS_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


@pytest.fixture(scope="module")
def aws():
    with running_emulator(planes=[]) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def world(aws):
    """The reference pipeline's cross-account shape: management account roles, pipeline account role,
    artifact bucket and key (policies as in fixtures/pipeline/*.yaml)."""
    mgmt_iam, pipe_iam = aws.client("iam", account=MGMT), aws.client("iam", account=PIPE)
    _role(
        pipe_iam,
        "iamx-pipeline",
        _trust({"Service": "codepipeline.amazonaws.com"}, {"StringEquals": {"aws:SourceAccount": PIPE}}),
        _allow(["sts:AssumeRole"], SOURCE_ROLE),
    )
    _role(
        pipe_iam, "iamx-other", _trust({"AWS": f"arn:aws:iam::{PIPE}:root"}), _allow(["sts:AssumeRole"], "*")
    )
    _role(pipe_iam, "iamx-bare", _trust({"AWS": f"arn:aws:iam::{PIPE}:root"}))
    _role(
        pipe_iam,
        "iamx-build",
        _trust({"Service": "codebuild.amazonaws.com"}, {"StringEquals": {"aws:SourceAccount": PIPE}}),
    )
    _role(
        pipe_iam,
        "iamx-build-elsewhere",
        _trust({"Service": "codebuild.amazonaws.com"}, {"StringEquals": {"aws:SourceAccount": OTHER}}),
    )
    _role(
        mgmt_iam,
        "iamx-source",
        _trust(
            {"AWS": f"arn:aws:iam::{PIPE}:root"},
            {"ArnEquals": {"aws:PrincipalArn": PIPELINE_ROLE}},
        ),
    )
    _role(mgmt_iam, "iamx-open", _trust({"AWS": PIPE}))  # a bare account id is the account's root
    _role(
        mgmt_iam,
        "iamx-external",
        _trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"StringEquals": {"sts:ExternalId": "pinned"}}),
    )

    kms = aws.client("kms", account=PIPE)
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnableIamPoliciesOfThisAccount",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PIPE}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "ManagementAccount",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MGMT}:root"},
                "Action": KMS_USE,
                "Resource": "*",
            },
        ],
    }
    key = kms.create_key(Policy=json.dumps(key_policy))["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/iamx-artifacts", TargetKeyId=key)
    private_key = kms.create_key()["KeyMetadata"]["Arn"]  # default policy: only its own account
    kms.create_alias(AliasName="alias/iamx-private", TargetKeyId=private_key)

    writer_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
            },
            {
                "Effect": "Allow",
                "Action": KMS_USE,
                "Resource": f"arn:aws:kms:{REGION}:{PIPE}:key/*",
                "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/iamx-artifacts"}},
            },
        ],
    }
    _role(mgmt_iam, "iamx-writer", _trust({"AWS": f"arn:aws:iam::{MGMT}:root"}), json.dumps(writer_policy))
    _role(mgmt_iam, "iamx-noperm", _trust({"AWS": f"arn:aws:iam::{MGMT}:root"}))

    s3 = aws.client("s3", account=PIPE)
    s3.create_bucket(Bucket=BUCKET)
    bucket_arn = f"arn:aws:s3:::{BUCKET}"
    bucket_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyObjectsNotEncryptedWithKms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            },
            {
                "Sid": "ManagementAccount",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MGMT}:root"},
                "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:PutObjectAcl"],
                "Resource": f"{bucket_arn}/*",
            },
        ],
    }
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(bucket_policy))
    return {"key": key, "private_key": private_key}


def _as_role(aws, role_arn: str, source_account: str, service: str = "sts", **kwargs):
    answer = aws.client("sts", account=source_account).assume_role(
        RoleArn=role_arn, RoleSessionName="tt", **kwargs
    )
    return aws.client(service, **_creds(answer))


# ---- STS AssumeRole: trust policies ---------------------------------------------------------------------


def test_pipeline_role_assumes_the_management_role(aws, world):
    as_pipeline = _as_role(aws, PIPELINE_ROLE, PIPE)  # root of its account standing in for CodePipeline
    answer = as_pipeline.assume_role(RoleArn=SOURCE_ROLE, RoleSessionName="source")
    identity = aws.client("sts", **_creds(answer)).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{MGMT}:assumed-role/iamx-source/source"


def test_another_role_of_the_pipeline_account_is_refused_with_stss_words(aws, world):
    as_other = _as_role(aws, f"arn:aws:iam::{PIPE}:role/iamx-other", PIPE)
    message = _denied(lambda: as_other.assume_role(RoleArn=SOURCE_ROLE, RoleSessionName="xx"))
    assert message == (
        f"User: arn:aws:sts::{PIPE}:assumed-role/iamx-other/tt is not authorized to perform: "
        f"sts:AssumeRole on resource: {SOURCE_ROLE}"
    )


def test_a_third_account_and_the_pipeline_accounts_root_are_refused(aws, world):
    third = aws.client("sts", account=OTHER)
    message = _denied(lambda: third.assume_role(RoleArn=SOURCE_ROLE, RoleSessionName="xx"))
    assert message.startswith(f"User: arn:aws:iam::{OTHER}:root is not authorized to perform: sts:AssumeRole")
    root = aws.client("sts", account=PIPE)  # the trusted account, but not the trusted role (ArnEquals)
    _denied(lambda: root.assume_role(RoleArn=SOURCE_ROLE, RoleSessionName="xx"))


def test_cross_account_trust_of_an_account_needs_the_callers_identity_policy(aws, world):
    open_role = f"arn:aws:iam::{MGMT}:role/iamx-open"
    allowed = _as_role(aws, f"arn:aws:iam::{PIPE}:role/iamx-other", PIPE)  # identity allows sts:AssumeRole
    assert allowed.assume_role(RoleArn=open_role, RoleSessionName="xx")["Credentials"]["AccessKeyId"]
    bare = _as_role(aws, f"arn:aws:iam::{PIPE}:role/iamx-bare", PIPE)  # no identity policy
    _denied(lambda: bare.assume_role(RoleArn=open_role, RoleSessionName="xx"))
    # the account root is allowed by its own account's identity side
    assert aws.client("sts", account=PIPE).assume_role(RoleArn=open_role, RoleSessionName="xx")


def test_service_principal_trust_is_not_for_users(aws, world):
    iam = aws.client("iam", account=PIPE)
    iam.create_user(UserName="iamx-admin")
    iam.put_user_policy(UserName="iamx-admin", PolicyName="all", PolicyDocument=_allow(["*"], "*"))
    key = iam.create_access_key(UserName="iamx-admin")["AccessKey"]
    user = aws.client("sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key="x")
    build_role = f"arn:aws:iam::{PIPE}:role/iamx-build"
    message = _denied(lambda: user.assume_role(RoleArn=build_role, RoleSessionName="xx"))
    assert message.startswith(f"User: arn:aws:iam::{PIPE}:user/iamx-admin is not authorized")
    as_other = _as_role(aws, f"arn:aws:iam::{PIPE}:role/iamx-other", PIPE)
    _denied(lambda: as_other.assume_role(RoleArn=build_role, RoleSessionName="xx"))
    _denied(lambda: aws.client("sts", account=OTHER).assume_role(RoleArn=build_role, RoleSessionName="xx"))
    # the account itself stands in for the service, and the trust policy's conditions still apply
    assert aws.client("sts", account=PIPE).assume_role(RoleArn=build_role, RoleSessionName="xx")
    elsewhere = f"arn:aws:iam::{PIPE}:role/iamx-build-elsewhere"  # aws:SourceAccount names another account
    _denied(lambda: aws.client("sts", account=PIPE).assume_role(RoleArn=elsewhere, RoleSessionName="xx"))


def test_external_id_condition(aws, world):
    role = f"arn:aws:iam::{MGMT}:role/iamx-external"
    sts = aws.client("sts", account=OTHER)
    _denied(lambda: sts.assume_role(RoleArn=role, RoleSessionName="xx"))
    _denied(lambda: sts.assume_role(RoleArn=role, RoleSessionName="xx", ExternalId="wrong"))
    assert sts.assume_role(RoleArn=role, RoleSessionName="xx", ExternalId="pinned")


def test_role_clients_are_refused_like_any_caller(aws, world):
    clients = RoleClients(aws.endpoint_url)
    # the control planes' path: the pipeline account (not its pipeline role) asking for the source role
    message = _denied(lambda: clients.for_role("codecommit", SOURCE_ROLE, source_account=PIPE))
    assert f"sts:AssumeRole on resource: {SOURCE_ROLE}" in message
    _denied(lambda: clients.for_role("s3", f"arn:aws:iam::{PIPE}:role/iamx-build", source_account=OTHER))
    # and the allowed path: the service role assumed as the service, in its own account
    assert clients.for_role("sts", PIPELINE_ROLE).get_caller_identity()["Account"] == PIPE


def test_denials_show_in_the_request_log(aws, world):
    _denied(lambda: aws.client("sts", account=OTHER).assume_role(RoleArn=SOURCE_ROLE, RoleSessionName="xx"))
    entries = [e for e in aws.aws.front_door.requests if e["provider"] == "iam"]
    assert any(
        e["operation"] == "AssumeRole" and e["status"] == 403 and e["account"] == OTHER for e in entries
    )


# ---- S3: the artifact bucket policy --------------------------------------------------------------------


def _sse(key: str) -> dict:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}


def test_cross_account_writer_puts_and_gets_with_sse_kms(aws, world):
    s3 = _as_role(aws, WRITER_ROLE, MGMT, "s3")
    s3.put_object(Bucket=BUCKET, Key="src/a.zip", Body=b"artifact", **_sse(world["key"]))
    assert s3.get_object(Bucket=BUCKET, Key="src/a.zip")["Body"].read() == b"artifact"
    assert s3.head_object(Bucket=BUCKET, Key="src/a.zip")["ServerSideEncryption"] == "aws:kms"


def test_put_without_the_kms_header_is_denied_for_everyone(aws, world):
    writer = _as_role(aws, WRITER_ROLE, MGMT, "s3")
    message = _denied(lambda: writer.put_object(Bucket=BUCKET, Key="plain", Body=b"x"))
    assert message == "Access Denied"  # S3 explains denials to the bucket owner's account only
    owner = aws.client("s3", account=PIPE)
    message = _denied(lambda: owner.put_object(Bucket=BUCKET, Key="plain", Body=b"x"))
    assert message == (
        f"User: arn:aws:iam::{PIPE}:root is not authorized to perform: s3:PutObject on resource: "
        f"arn:aws:s3:::{BUCKET}/plain with an explicit deny in a resource-based policy"
    )
    owner.put_object(Bucket=BUCKET, Key="owned", Body=b"x", **_sse(world["key"]))  # same account: allowed
    assert owner.get_object(Bucket=BUCKET, Key="owned")["Body"].read() == b"x"


def test_delete_objects_is_judged_per_key_like_delete_object(aws, world):
    owner = aws.client("s3", account=PIPE)
    for key in ("batch/a", "batch/b"):
        owner.put_object(Bucket=BUCKET, Key=key, Body=b"x", **_sse(world["key"]))
    writer = _as_role(aws, WRITER_ROLE, MGMT, "s3")  # not granted s3:DeleteObject by the bucket policy
    _denied(lambda: writer.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "batch/a"}]}))
    # The owner's account is not refused by moto's own reading of the conditioned bucket policy.
    answer = owner.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "batch/a"}, {"Key": "batch/b"}]})
    assert sorted(d["Key"] for d in answer["Deleted"]) == ["batch/a", "batch/b"] and not answer.get("Errors")


def test_cross_account_without_identity_permission_or_grant_is_denied(aws, world):
    aws.client("s3", account=PIPE).put_object(Bucket=BUCKET, Key="existing", Body=b"x", **_sse(world["key"]))
    noperm = _as_role(aws, NOPERM_ROLE, MGMT, "s3")
    _denied(lambda: noperm.put_object(Bucket=BUCKET, Key="n", Body=b"x", **_sse(world["key"])))
    _denied(lambda: noperm.get_object(Bucket=BUCKET, Key="existing"))
    _denied(lambda: noperm.head_object(Bucket=BUCKET, Key="existing"), code="403")  # HEAD has no body
    third = aws.client("s3", account=OTHER)
    _denied(lambda: third.put_object(Bucket=BUCKET, Key="t", Body=b"x", **_sse(world["key"])))
    _denied(lambda: third.get_object(Bucket=BUCKET, Key="existing"))
    # the writer may write but was not granted DeleteObject by the bucket policy
    writer = _as_role(aws, WRITER_ROLE, MGMT, "s3")
    _denied(lambda: writer.delete_object(Bucket=BUCKET, Key="existing"))


def test_sse_kms_with_a_key_that_does_not_grant_the_caller(aws, world):
    writer = _as_role(aws, WRITER_ROLE, MGMT, "s3")
    message = _denied(
        lambda: writer.put_object(Bucket=BUCKET, Key="k", Body=b"x", **_sse(world["private_key"]))
    )
    assert message == (
        f"User: arn:aws:sts::{MGMT}:assumed-role/iamx-writer/tt is not authorized to perform: "
        f"kms:GenerateDataKey on resource: {world['private_key']} because no resource-based policy allows "
        "the kms:GenerateDataKey action"
    )


def test_reading_an_object_needs_decrypt_on_its_key(aws, world):
    owner = aws.client("s3", account=PIPE)
    owner.put_object(Bucket=BUCKET, Key="private.zip", Body=b"x", **_sse(world["private_key"]))
    writer = _as_role(aws, WRITER_ROLE, MGMT, "s3")
    message = _denied(lambda: writer.get_object(Bucket=BUCKET, Key="private.zip"))
    assert f"kms:Decrypt on resource: {world['private_key']}" in message
    assert writer.head_object(Bucket=BUCKET, Key="private.zip")  # HeadObject does not decrypt


def test_copy_out_of_the_artifact_bucket(aws, world):
    aws.client("s3", account=MGMT).create_bucket(Bucket="iamx-mgmt-copies")
    aws.client("s3", account=PIPE).put_object(Bucket=BUCKET, Key="c/src", Body=b"c", **_sse(world["key"]))
    source = {"Bucket": BUCKET, "Key": "c/src"}
    writer = _as_role(aws, WRITER_ROLE, MGMT, "s3")
    writer.copy_object(Bucket="iamx-mgmt-copies", Key="copy", CopySource=source)
    assert writer.get_object(Bucket="iamx-mgmt-copies", Key="copy")["Body"].read() == b"c"
    noperm = _as_role(aws, NOPERM_ROLE, MGMT, "s3")  # may write its own bucket, may not read the source
    _denied(lambda: noperm.copy_object(Bucket="iamx-mgmt-copies", Key="copy2", CopySource=source))


def test_same_account_buckets_without_a_policy_stay_open(aws, world):
    s3 = aws.client("s3", account=MGMT)
    s3.create_bucket(Bucket="iamx-plain-bucket")
    s3.put_object(Bucket="iamx-plain-bucket", Key="k", Body=b"x")
    assert s3.get_object(Bucket="iamx-plain-bucket", Key="k")["Body"].read() == b"x"
    _denied(lambda: aws.client("s3", account=PIPE).get_object(Bucket="iamx-plain-bucket", Key="k"))


def test_role_clients_s3_denial(aws, world):
    clients = RoleClients(aws.endpoint_url)
    s3 = clients.for_role("s3", NOPERM_ROLE)
    _denied(lambda: s3.put_object(Bucket=BUCKET, Key="rc", Body=b"x", **_sse(world["key"])))
    writer = clients.for_role("s3", WRITER_ROLE)
    writer.put_object(Bucket=BUCKET, Key="rc", Body=b"x", **_sse(world["key"]))


# ---- KMS: the key policy --------------------------------------------------------------------------------


def test_cross_account_key_use_with_key_policy_and_identity_policy(aws, world):
    kms = _as_role(aws, WRITER_ROLE, MGMT, "kms")
    blob = kms.encrypt(KeyId=world["key"], Plaintext=b"secret")["CiphertextBlob"]
    answer = kms.decrypt(CiphertextBlob=blob)  # the key is found from the ciphertext, in its own account
    assert answer["Plaintext"] == b"secret" and answer["KeyId"] == world["key"]
    assert kms.describe_key(KeyId=world["key"])["KeyMetadata"]["Arn"] == world["key"]
    assert kms.generate_data_key(KeyId=world["key"], KeySpec="AES_256")["KeyId"] == world["key"]


def test_key_policy_without_a_grant_denies(aws, world):
    kms = _as_role(aws, WRITER_ROLE, MGMT, "kms")
    message = _denied(
        lambda: kms.encrypt(KeyId=world["private_key"], Plaintext=b"x"), "AccessDeniedException"
    )
    assert message == (
        f"User: arn:aws:sts::{MGMT}:assumed-role/iamx-writer/tt is not authorized to perform: kms:Encrypt "
        f"on resource: {world['private_key']} because no resource-based policy allows the kms:Encrypt action"
    )
    blob = aws.client("kms", account=PIPE).encrypt(KeyId=world["private_key"], Plaintext=b"x")[
        "CiphertextBlob"
    ]
    _denied(lambda: kms.decrypt(CiphertextBlob=blob), "AccessDeniedException")


def test_identity_policy_is_needed_across_accounts(aws, world):
    kms = _as_role(aws, NOPERM_ROLE, MGMT, "kms")
    message = _denied(lambda: kms.encrypt(KeyId=world["key"], Plaintext=b"x"), "AccessDeniedException")
    assert message.endswith("because no identity-based policy allows the kms:Encrypt action")
    _denied(
        lambda: aws.client("kms", account=OTHER).describe_key(KeyId=world["key"]), "AccessDeniedException"
    )
    clients = RoleClients(aws.endpoint_url)
    _denied(
        lambda: clients.for_role("kms", NOPERM_ROLE).encrypt(KeyId=world["key"], Plaintext=b"x"),
        "AccessDeniedException",
    )


def test_resource_aliases_condition_pins_the_key(aws, world):
    kms = aws.client("kms", account=PIPE)
    policy = json.loads(kms.get_key_policy(KeyId=world["key"], PolicyName="default")["Policy"])
    other_key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]  # grants MGMT, other alias
    kms.create_alias(AliasName="alias/iamx-unrelated", TargetKeyId=other_key)
    writer = _as_role(aws, WRITER_ROLE, MGMT, "kms")
    message = _denied(lambda: writer.encrypt(KeyId=other_key, Plaintext=b"x"), "AccessDeniedException")
    assert "no identity-based policy allows" in message


def test_same_account_key_use_stays_allowed(aws, world):
    kms = aws.client("kms", account=PIPE)
    for key in (world["key"], world["private_key"], "alias/iamx-private"):
        blob = kms.encrypt(KeyId=key, Plaintext=b"same")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"same"
    as_bare = _as_role(aws, f"arn:aws:iam::{PIPE}:role/iamx-bare", PIPE, "kms")
    assert as_bare.describe_key(KeyId=world["key"])["KeyMetadata"]["KeyId"]


# ---- the evaluator ---------------------------------------------------------------------------------------


CALLER = Principal(MGMT, f"arn:aws:sts::{MGMT}:assumed-role/r/s", f"arn:aws:iam::{MGMT}:role/r", "role", "r")


def test_secure_transport_deny_applies_when_the_request_is_insecure():
    deny = {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    }
    insecure = Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:securetransport": ["false"]})
    secure = Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:securetransport": ["true"]})
    assert evaluate(deny, insecure, CALLER).denied
    assert not evaluate(deny, secure, CALLER).denied


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}, {}, True),  # missing key
        ({"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}, {}, False),
        ({"StringEqualsIfExists": {"sts:ExternalId": "x"}}, {}, True),
        ({"Null": {"sts:ExternalId": "true"}}, {}, True),
        ({"Null": {"sts:ExternalId": "false"}}, {}, False),
        ({"ForAllValues:StringEquals": {"kms:ResourceAliases": "alias/a"}}, {}, True),
        ({"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/a"}}, {}, False),
        (
            {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/app-*"}},
            {"kms:resourcealiases": ["alias/x", "alias/app-1"]},
            True,
        ),
        (
            {"ForAllValues:StringLike": {"kms:ResourceAliases": "alias/app-*"}},
            {"kms:resourcealiases": ["alias/x", "alias/app-1"]},
            False,
        ),
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/r"}},
            {"aws:principalarn": [CALLER.principal_arn]},
            True,
        ),
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/r*"}},
            {"aws:principalarn": ["arn:aws:iam::1:user/r"]},
            False,
        ),
        (
            {"ArnEquals": {"aws:PrincipalArn": ["arn:aws:iam::1:role/a", CALLER.principal_arn]}},
            {"aws:principalarn": [CALLER.principal_arn]},
            True,
        ),
        ({"Bool": {"aws:SecureTransport": True}}, {"aws:securetransport": ["true"]}, True),
        (
            {"StringEquals": {"aws:SourceAccount": "1"}, "Bool": {"aws:SecureTransport": "true"}},
            {"aws:sourceaccount": ["1"]},
            False,
        ),
        (
            {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
            {"aws:currenttime": ["2030"]},
            False,
        ),
    ],
)
def test_condition_operators(condition, context, expected):
    assert conditions_hold(condition, context) is expected
