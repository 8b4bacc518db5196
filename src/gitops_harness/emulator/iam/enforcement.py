"""IAM where cross-account breaks in practice: checks the front door runs before moto answers a request.

moto enforces no IAM at all. Turning its identity-policy enforcement on everywhere would break every
stack that works on AWS only because of permissions moto cannot model, so the front door enforces exactly
the decisions that fail pipelines across accounts (see docs/emulator.md, "IAM enforcement"):
- sts:AssumeRole: the role's trust policy, and for a caller from another account its identity policies;
- S3 object reads and writes: the bucket policy (explicit Denies apply to everyone; a caller from another
  account needs an Allow in it and in its identity policies), plus the KMS key when S3 encrypts or
  decrypts with a customer key on the caller's behalf (kms:ViaService s3.<region>.amazonaws.com);
- KMS key use (Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*, DescribeKey): the key policy must allow
  the caller or its account, and a caller from another account needs its identity policies as well.
Same-account identity policies are not evaluated for an Allow (only their explicit Denies count): moto
cannot answer them for all the services the stacks use.

aws:SecureTransport is "true": the emulator stands in for AWS's HTTPS endpoints, and the SDK talks plain
HTTP to it only because it is local; a bucket policy that denies insecure transport would otherwise deny
every request, which is not what it does on AWS.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request as WsgiRequest

from gitops_harness.emulator.common.arns import InvalidArn, parse_arn
from gitops_harness.emulator.common.buckets import bucket_owner
from gitops_harness.emulator.iam.policy import Evaluation, Request, evaluate, evaluate_all
from gitops_harness.emulator.iam.principals import Principal, find_role, identity_documents, principal_for
from gitops_harness.emulator.identity import credential_scope, resolve_caller
from gitops_harness.emulator.protocol import WireResponse

SECURE_TRANSPORT = "true"
ENFORCED: dict[str, tuple[str, ...]] = {
    "sts": ("AssumeRole",),
    "s3": (
        "GetObject",
        "GetObjectVersion",
        "HeadObject",
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "PutObjectAcl",
        "GetObjectAcl",
        "DeleteObject",
        "DeleteObjectVersion",
    ),
    "kms": (
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "DescribeKey",
    ),
}
_VIRTUAL_HOST_RE = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3[.-]")
_ARN_RE = re.compile(r"^arn:aws[\w-]*:kms:([^:]*):(\d{12}):(key|alias)/(.+)$")


@dataclass(frozen=True)
class Verdict:
    operation: str
    denial: WireResponse | None = None  # answer this instead of moto
    account: str | None = None  # moto acts in this account (the owner of a cross-account KMS key)


@dataclass(frozen=True)
class _Denied:
    """Why a decision failed, in AWS's words ("... because no resource-based policy allows ...")."""

    action: str
    resource: str
    reason: str

    def message(self, principal: Principal) -> str:
        return f"User: {principal.arn} is not authorized to perform: {self.action} on resource: {self.resource} {self.reason}"


@dataclass
class _Call:
    environ: dict[str, Any]
    service: str
    access_key: str
    request: WsgiRequest = field(init=False)

    def __post_init__(self) -> None:
        self.request = WsgiRequest(self.environ)

    @cached_property
    def region(self) -> str:
        scope = credential_scope(self.request.headers, self.request.args)
        return scope.region if scope is not None else "us-east-1"

    @cached_property
    def principal(self) -> Principal:  # resolved only for the operations enforced here
        return principal_for(resolve_caller(self.access_key))

    def body(self) -> bytes:
        """The request body, left in place for moto (JSON and query protocol requests are small)."""
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if not length:  # no body, or a chunked one: leave the stream to moto
            return b""
        data = self.environ["wsgi.input"].read(length)
        self.environ["wsgi.input"] = io.BytesIO(data)
        return data


def enforce(environ: dict[str, Any], service: str, access_key: str) -> Verdict | None:
    """A denial to answer, an account for moto to act in, or None (not an enforced operation)."""
    _decided.resources = ()  # decisions last for one request
    if service not in ENFORCED:
        return None
    return _HANDLERS[service](_Call(environ, service, access_key))


# ---- the decision (AWS policy evaluation logic, the parts that matter here) -----------------------------


def _decide(
    principal: Principal,
    request: Request,
    owner_account: str,
    resource_policy: Any,
    *,
    resource_policy_required: bool,
) -> _Denied | None:
    """Explicit Deny anywhere denies. Same account: the resource policy must allow when it is required
    (trust and key policies), else allowed. Other account: the resource policy AND the identity side."""
    resource = evaluate(resource_policy, request, principal) if resource_policy else Evaluation()
    if principal.kind == "root":  # the account root: its own account's identity side allows it everything
        identity = Evaluation(grants_principal=True)
    else:
        identity = evaluate_all(identity_documents(principal), request)
    action, arn = request.action, request.resource
    cross_account = principal.account != owner_account
    if resource.denied:
        return _Denied(action, arn, "with an explicit deny in a resource-based policy")
    if identity.denied:
        return _Denied(action, arn, "with an explicit deny in an identity-based policy")
    granted = resource.grants_principal or resource.grants_account
    if not granted and (resource_policy_required or cross_account):
        return _Denied(action, arn, f"because no resource-based policy allows the {action} action")
    if cross_account and not identity.allowed:
        return _Denied(action, arn, f"because no identity-based policy allows the {action} action")
    return None


def _context(principal: Principal, **extra: list[str]) -> dict[str, list[str]]:
    return {**principal.context(), "aws:securetransport": [SECURE_TRANSPORT], **extra}


# ---- STS ----------------------------------------------------------------------------------------------


def _sts(call: _Call) -> Verdict | None:
    params = dict(call.request.args.items())
    params.update(parse_qsl(call.body().decode("utf-8", "replace")))
    if params.get("Action") != "AssumeRole" or not params.get("RoleArn"):
        return None
    role_arn = params["RoleArn"]
    try:
        arn = parse_arn(role_arn)
    except InvalidArn:
        return None  # moto answers the validation error
    if arn.resource_type != "role":
        return None
    role_account, role_name = arn.account, arn.resource_id.rsplit("/", 1)[-1]
    role = find_role(role_account, role_name)
    if role is None:
        return None  # moto assumes roles that do not exist; kept (documented gap)
    principal = call.principal
    extra: dict[str, list[str]] = {}
    if "ExternalId" in params:
        extra["sts:externalid"] = [params["ExternalId"]]
    # A 12-digit key assuming a role of its own account is the platform acting for that account: it may
    # stand in for a trust policy's Service principal, with aws:SourceAccount = the account (how the control
    # planes assume service roles). Users and roles never can.
    as_service = principal.kind == "root" and principal.account == role_account
    if as_service:
        extra["aws:sourceaccount"] = [principal.account]
    request = Request("sts:AssumeRole", str(role.arn), _context(principal, **extra), as_service=as_service)
    denial = _decide(
        principal, request, role_account, role.assume_role_policy_document, resource_policy_required=True
    )
    if denial is None:
        return Verdict("AssumeRole")
    message = f"User: {principal.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    return Verdict("AssumeRole", _sts_access_denied(message))


def _sts_access_denied(message: str) -> WireResponse:
    request_id = str(uuid.uuid4())
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return WireResponse(403, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode())


# ---- S3 -----------------------------------------------------------------------------------------------


def _bucket_and_key(request: WsgiRequest) -> tuple[str, str] | None:
    host = request.host.split(":")[0]
    match = _VIRTUAL_HOST_RE.match(host)
    path = request.path
    if match:
        bucket, key = match.group("bucket"), path.lstrip("/")
    else:
        bucket, _, key = path.lstrip("/").partition("/")
    return (bucket, key) if bucket and key else None


def _s3_operation(request: WsgiRequest) -> tuple[str, str] | None:
    """(operation, IAM action) for the object operations enforced here; None for everything else."""
    args, method = request.args, request.method
    versioned = "versionId" in args
    if method in ("GET", "HEAD"):
        if "acl" in args:
            return ("GetObjectAcl", "s3:GetObjectVersionAcl" if versioned else "s3:GetObjectAcl")
        if {a for a in args if not a.startswith("response-")} - {"versionId", "partNumber"}:
            return None  # tagging, attributes, ListParts, ...: not enforced
        operation = "HeadObject" if method == "HEAD" else "GetObjectVersion" if versioned else "GetObject"
        return (operation, "s3:GetObjectVersion" if versioned else "s3:GetObject")
    if method == "PUT":
        if "acl" in args:
            return ("PutObjectAcl", "s3:PutObjectAcl")
        if args:
            return None  # UploadPart continues an upload CreateMultipartUpload authorized; tagging, ...
        return ("CopyObject" if "x-amz-copy-source" in request.headers else "PutObject", "s3:PutObject")
    if method == "POST" and "uploads" in args:
        return ("CreateMultipartUpload", "s3:PutObject")
    if method == "DELETE" and set(args) <= {"versionId"}:
        return (
            ("DeleteObjectVersion", "s3:DeleteObjectVersion")
            if versioned
            else ("DeleteObject", "s3:DeleteObject")
        )
    return None


# moto checks bucket policies itself for object requests, and any statement with a Condition (the
# reference bucket policy's deny-insecure-transport and deny-unencrypted) comes out as an explicit deny
# there. For the object resource this module has just decided, moto's check answers "no opinion"; for
# everything else it runs unchanged. Per thread: moto handles the request on the thread that decided it.
_decided = threading.local()


def deferring_bucket_permission(moto_check: Callable[..., Any]) -> Callable[..., Any]:
    """moto's FakeBucket.get_permission while an emulator runs (installed by emulator/moto_patches.py)."""
    from moto.iam.access_control import PermissionResult

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if resource in getattr(_decided, "resources", ()):
            return PermissionResult.NEUTRAL
        return moto_check(self, action, resource)

    return get_permission


def _defer_moto_bucket_policy_check(resource: str) -> None:
    _decided.resources = (*getattr(_decided, "resources", ()), resource)


def _s3_check(
    call: _Call, bucket_name: str, key: str, action: str, headers: dict[str, str]
) -> tuple[str, _Denied] | None:
    """(bucket owner, denial) when S3 refuses `action` on bucket/key; None when allowed or unknown."""
    found = bucket_owner(bucket_name)
    if found is None:
        return None  # moto answers NoSuchBucket
    owner, bucket = found
    extra = {f"s3:{name}": [value] for name, value in headers.items()}
    extra["s3:resourceaccount"] = extra["aws:resourceaccount"] = [owner]
    request = Request(action, f"arn:aws:s3:::{bucket_name}/{key}", _context(call.principal, **extra))
    policy = bucket.policy.decode() if bucket.policy else None
    denial = _decide(call.principal, request, owner, policy, resource_policy_required=False)
    return None if denial is None else (owner, denial)


def _copy_source(request: WsgiRequest) -> tuple[str, str]:
    source = unquote(request.headers["x-amz-copy-source"].split("?", 1)[0]).lstrip("/")
    bucket, _, key = source.partition("/")
    return bucket, key


def _sse_headers(request: WsgiRequest) -> dict[str, str]:
    names = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-acl")
    return {name: request.headers[name] for name in names if name in request.headers}


def _delete_objects(call: _Call) -> Verdict | None:
    """DeleteObjects (POST /bucket?delete): s3:DeleteObject for every key it names. One denied key
    refuses the whole request here (S3 would list it under Errors and delete the rest)."""
    bucket_name = _bucket_and_key_path(call.request)
    try:
        root = ElementTree.fromstring(call.body())
    except ElementTree.ParseError:
        return None  # moto answers MalformedXML
    keys = [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]
    for key in keys:
        refused = _s3_check(call, bucket_name, key, "s3:DeleteObject", {})
        if refused is not None:
            owner, denial = refused
            same = owner == call.principal.account
            return Verdict(
                "DeleteObjects",
                _s3_access_denied(denial.message(call.principal) if same else "Access Denied"),
            )
    for key in keys:
        _defer_moto_bucket_policy_check(f"arn:aws:s3:::{bucket_name}/{key}")
    return Verdict("DeleteObjects")


def _bucket_and_key_path(request: WsgiRequest) -> str:
    match = _VIRTUAL_HOST_RE.match(request.host.split(":")[0])
    return match.group("bucket") if match else request.path.lstrip("/").split("/", 1)[0]


def _s3(call: _Call) -> Verdict | None:
    request = call.request
    if request.method == "POST" and "delete" in request.args:
        return _delete_objects(call)
    target = _bucket_and_key(request)
    operation = _s3_operation(request)
    if target is None or operation is None:
        return None
    (bucket_name, key), (name, action) = target, operation
    headers = _sse_headers(request) if action == "s3:PutObject" else {}
    refused = _s3_check(call, bucket_name, key, action, headers)
    if refused is None and name == "CopyObject":
        source_bucket, source_key = _copy_source(request)
        refused = _s3_check(call, source_bucket, source_key, "s3:GetObject", {})
    if refused is not None:
        owner, denial = refused
        # S3 explains a denial to callers of the bucket owner's account only
        same = owner == call.principal.account
        return Verdict(name, _s3_access_denied(denial.message(call.principal) if same else "Access Denied"))
    kms_denial = _s3_kms_check(call, name, bucket_name, key, headers)
    if kms_denial is not None:
        # S3 passes KMS's refusal through, under its own AccessDenied code
        return Verdict(name, _s3_access_denied(kms_denial.message(call.principal)))
    _defer_moto_bucket_policy_check(f"arn:aws:s3:::{bucket_name}/{key}")
    return Verdict(name)


def _s3_kms_check(
    call: _Call, operation: str, bucket_name: str, key: str, headers: dict[str, str]
) -> _Denied | None:
    """S3 uses the caller's identity with KMS for SSE-KMS: GenerateDataKey to write, Decrypt to read."""
    found = bucket_owner(bucket_name)
    if found is None:
        return None
    owner, bucket = found
    uses: list[tuple[str, str]] = []  # (kms action, key id)
    if operation in ("PutObject", "CopyObject", "CreateMultipartUpload"):
        default = ((bucket.encryption or {}).get("Rule") or {}).get(
            "ApplyServerSideEncryptionByDefault"
        ) or {}
        algorithm = headers.get("x-amz-server-side-encryption") or default.get("SSEAlgorithm")
        key_id = headers.get("x-amz-server-side-encryption-aws-kms-key-id") or default.get("KMSMasterKeyID")
        if algorithm in ("aws:kms", "aws:kms:dsse") and key_id:
            uses.append(("kms:GenerateDataKey", key_id))
    if operation in ("GetObject", "GetObjectVersion", "CopyObject"):
        source_bucket, source_key = bucket, key
        if operation == "CopyObject":
            source_name, source_key = _copy_source(call.request)
            source_found = bucket_owner(source_name)
            source_bucket = source_found[1] if source_found else None
        stored = source_bucket.keys.get(source_key) if source_bucket is not None else None
        if stored is not None and getattr(stored, "kms_key_id", None):
            uses.append(("kms:Decrypt", stored.kms_key_id))
    for action, key_id in uses:
        located = _find_key(key_id, owner, call.region)
        if located is None:
            continue  # not a key moto holds (e.g. the AWS managed aws/s3 key): nothing to check
        key_account, kms_key = located
        extra = {"kms:viaservice": [f"s3.{call.region}.amazonaws.com"]}
        denial = _kms_decide(call.principal, action, key_account, kms_key, extra)
        if denial is not None:
            return denial
    return None


def _s3_access_denied(message: str) -> WireResponse:
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>AccessDenied</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>{base64.b64encode(uuid.uuid4().bytes).decode()}</HostId></Error>"
    )
    return WireResponse(
        403, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode()
    )


# ---- KMS ----------------------------------------------------------------------------------------------


def _kms_backends(account: str) -> list[Any]:
    from moto.kms.models import kms_backends

    regions = dict.get(kms_backends, account)
    return [] if regions is None else list(dict.values(regions))


def _find_key(key_id: str, default_account: str, region: str) -> tuple[str, Any] | None:
    """(account, moto key) for a key id, key ARN, alias name or alias ARN; ids without an ARN name a key of
    `default_account`, as KMS reads them."""
    match = _ARN_RE.match(key_id)
    account = match.group(2) if match else default_account
    region = match.group(1) if match else region
    name = (f"alias/{match.group(4)}" if match.group(3) == "alias" else match.group(4)) if match else key_id
    for backend in _kms_backends(account):
        if backend.region_name != region:
            continue
        if name.startswith("alias/"):
            found = next((k for k in backend.keys.values() if name in k.aliases), None)
        else:
            found = backend.keys.get(name)
        if found is not None:
            return account, found
    return None


def _key_of_ciphertext(blob: str) -> str | None:
    """The key id moto writes at the start of its ciphertexts (moto.kms.utils: 36-character key id)."""
    try:
        raw = base64.b64decode(blob, validate=True)[:36].decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return raw if len(raw) == 36 else None


def _find_key_anywhere(key_id: str, region: str) -> tuple[str, Any] | None:
    from moto.kms.models import kms_backends

    for account in list(kms_backends.keys()):
        found = _find_key(key_id, account, region)
        if found is not None:
            return found
    return None


def _kms_decide(
    principal: Principal, action: str, key_account: str, key: Any, extra: dict[str, list[str]]
) -> _Denied | None:
    extra = {
        **extra,
        "kms:calleraccount": [principal.account],
        "kms:resourcealiases": sorted(key.aliases),
        "aws:resourceaccount": [key_account],
    }
    request = Request(action, str(key.arn), _context(principal, **extra))
    return _decide(principal, request, key_account, key.policy, resource_policy_required=True)


def _kms(call: _Call) -> Verdict | None:
    operation = call.environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
    if operation not in ENFORCED["kms"]:
        return None
    try:
        params = json.loads(call.body() or b"{}")
    except ValueError:
        return None  # moto answers the serialization error
    uses: list[tuple[str, str | None, str | None]] = []  # (action, key id, ciphertext)
    if operation == "ReEncrypt":
        uses.append(("kms:ReEncryptFrom", params.get("SourceKeyId"), params.get("CiphertextBlob")))
        uses.append(("kms:ReEncryptTo", params.get("DestinationKeyId"), None))
    elif operation == "Decrypt":
        uses.append(("kms:Decrypt", params.get("KeyId"), params.get("CiphertextBlob")))
    else:
        uses.append((f"kms:{operation}", params.get("KeyId"), None))
    extra: dict[str, list[str]] = {}
    context = params.get("EncryptionContext") or {}
    if isinstance(context, dict) and context:
        extra = {f"kms:encryptioncontext:{k}".lower(): [str(v)] for k, v in context.items()}
        extra["kms:encryptioncontextkeys"] = sorted(context)
    act_in: str | None = None
    for action, key_id, ciphertext in uses:
        if key_id:
            located = _find_key(key_id, call.principal.account, call.region)
        elif ciphertext and (from_blob := _key_of_ciphertext(ciphertext)):
            located = _find_key_anywhere(from_blob, call.region)
        else:
            located = None
        if located is None:
            continue  # moto answers NotFoundException / InvalidCiphertextException
        key_account, key = located
        denial = _kms_decide(call.principal, action, key_account, key, extra)
        if denial is not None:
            return Verdict(operation, _kms_access_denied(denial.message(call.principal)))
        if key_account != call.principal.account:
            act_in = key_account  # moto looks keys up in the request's account only
    return Verdict(operation, account=act_in)


def _kms_access_denied(message: str) -> WireResponse:
    request_id = str(uuid.uuid4())
    body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}
    return WireResponse(400, headers, body)


_HANDLERS: dict[str, Callable[[_Call], Verdict | None]] = {"sts": _sts, "s3": _s3, "kms": _kms}
