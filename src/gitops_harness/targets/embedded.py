"""The embedded target: this project's emulator (EmbeddedAWS) in-process, on a free port by default.

Its capabilities are read from the running emulator: which control planes it registered and which
operations they implement, which services moto serves behind the front door, and whether the front
door answers git smart HTTP. A plane landing later turns its suites on without editing a list.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

from gitops_harness.chat_receiver import ChatReceiver
from gitops_harness.config import Accounts, HarnessConfig
from gitops_harness.emulator.codecommit import insteadof_config
from gitops_harness.emulator.controlplane import ControlPlane
from gitops_harness.emulator.server import EmbeddedAWS
from gitops_harness.targets.base import Target

# capability -> {service (SigV4 signing name): operations an emulator control plane must implement}
PLANE_OPERATIONS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "codecommit-api": {"codecommit": ("CreateRepository", "GetRepository", "GetBranch")},
    "pipeline-execution": {
        "codepipeline": ("StartPipelineExecution", "GetPipelineState", "GetPipelineExecution")
    },
    "manual-approval": {"codepipeline": ("GetPipelineState", "PutApprovalResult")},
    "build": {"codebuild": ("StartBuild", "BatchGetBuilds")},
    "bluegreen": {"codedeploy": ("CreateDeployment", "GetDeployment", "GetDeploymentTarget")},
    "chat": {"codestar-notifications": ("CreateNotificationRule",)},
}
# capability -> services that must be served (by moto or by a plane)
SERVICES: Mapping[str, tuple[str, ...]] = {
    "events": ("events", "sqs"),
    "sns": ("sns", "sqs"),
    "cloudformation": ("cloudformation", "s3"),
}


class EmbeddedTarget(Target):
    name = "embedded"

    def __init__(
        self,
        accounts: Accounts | None = None,
        region: str = "us-east-1",
        *,
        time_scale: float = 1.0,
        port: int = 0,
        host: str = "127.0.0.1",
        strict_shapes: bool = False,
        planes: Sequence[type[ControlPlane]] | None = None,
    ):
        super().__init__(accounts or Accounts(management="111111111111", pipeline="222222222222"), region)
        self.time_scale = time_scale
        self._options = {"host": host, "port": port, "strict_shapes": strict_shapes, "region": region}
        if planes is not None:  # default: the emulator's registry
            self._options["planes"] = list(planes)
        self.aws: EmbeddedAWS | None = None

    @classmethod
    def from_config(cls, config: HarnessConfig, **overrides: object) -> EmbeddedTarget:
        settings = config.target_settings("embedded")
        options: dict[str, object] = {
            "time_scale": float(settings.get("time_scale", 1.0)),
            "port": int(settings.get("port", 0)),
        }
        options.update(overrides)
        return cls(config.accounts, config.region, **options)  # type: ignore[arg-type]

    def start(self) -> EmbeddedTarget:
        if self.aws is None:
            aws = EmbeddedAWS(time_scale=self.time_scale, **self._options)  # type: ignore[arg-type]
            aws.start()
            self.aws = aws
            try:
                # Where the chat notifier posts: a Slack-compatible receiver on 127.0.0.1, per target.
                self.chat = ChatReceiver(host="127.0.0.1").start()
                self._capabilities = self._discover_capabilities()
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        if self.chat is not None:
            self.chat.stop()
            self.chat = None
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
        self._capabilities = None

    @property
    def endpoint_url(self) -> str:
        if self.aws is None:
            raise RuntimeError("the embedded target is not started")
        return self.aws.endpoint_url

    def credentials(self, account_id: str) -> dict[str, str]:
        # The front door takes a 12-digit access key id as the account (LocalStack's convention).
        return {"aws_access_key_id": account_id, "aws_secret_access_key": "test"}

    def listener_url(self, listener_arn: str) -> str:
        """Where a load balancer listener answers on this machine: its ALB data plane server
        (http://127.0.0.1:<port>; also listed at /_emulator/listeners)."""
        if self.aws is None:
            raise RuntimeError("the embedded target is not started")
        return self.aws.listener_url(listener_arn)

    def stack_parameters(self) -> dict[str, dict[str, str]]:
        """The pipeline stack's ChatWebhookUrl (NoEcho) is this target's receiver; the optional AWS
        Chatbot configuration stays as the config has it (the emulator records, never delivers it)."""
        if self.chat is None:
            return {}
        return {"pipeline": {"ChatWebhookUrl": self.chat.url}}

    def git_url_rewrites(self) -> list[tuple[str, str]]:
        return [insteadof_config(self.endpoint_url, self.region)]

    # -- capabilities ---------------------------------------------------------------------------------

    def served(self) -> dict[str, str]:
        """service -> "emulator" | "moto", as the front door routes it."""
        assert self.aws is not None and self.aws.front_door is not None
        routes = {name: "moto" for name in self.aws.front_door.moto_services()}
        routes.update({plane.signing_name(): "emulator" for plane in self.aws.planes})
        return routes

    def _discover_capabilities(self) -> frozenset[str]:
        assert self.aws is not None
        found = {"embedded", "disposable-accounts"}  # a 12-digit access key names a new account
        operations = {plane.signing_name(): set(plane.implemented_operations()) for plane in self.aws.planes}
        for capability, needs in PLANE_OPERATIONS.items():
            if all(set(ops) <= operations.get(service, set()) for service, ops in needs.items()):
                found.add(capability)
        served = self.served()
        for capability, services in SERVICES.items():
            if all(s in served for s in services):
                found.add(capability)
        if getattr(self.aws, "event_delivery", None) is not None:
            found.add("cross-account-events")
        if getattr(self.aws, "data_plane", None) is not None:
            found.add("alb-data-plane")  # listeners carry requests to tasks that run
        if self._serves_git():
            found.add("codecommit-git")
        if getattr(self.aws, "lambda_executor", None) is not None:
            found.add("lambda-invoke")
        if self.chat is not None:
            found.add("chat-receiver")
        return frozenset(found)

    def _serves_git(self) -> bool:
        return serves_git(self.endpoint_url)


def serves_git(endpoint_url: str) -> bool:
    """True when the endpoint answers git smart HTTP: an anonymous ref advertisement request gets
    CodeCommit's Basic-auth challenge (not an AWS API error)."""
    url = f"{endpoint_url}/v1/repos/capability-check/info/refs?service=git-upload-pack"
    try:
        with urllib.request.urlopen(url, timeout=10):  # noqa: S310 - our own local endpoint
            return False  # an anonymous 200 is not CodeCommit
    except urllib.error.HTTPError as exc:
        return exc.code == 401 and "basic" in (exc.headers.get("WWW-Authenticate") or "").lower()
    except OSError:
        return False
