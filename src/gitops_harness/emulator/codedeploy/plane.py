"""The CodeDeploy control plane: applications, deployment groups (ECS blue/green), deployment configs,
deployments run by the engine, ECS deployment targets, lifecycle hook answers, tags."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from gitops_harness.emulator.codedeploy.appspec import parse_appspec
from gitops_harness.emulator.codedeploy.configs import PREDEFINED, DeploymentConfig, invalid_routing
from gitops_harness.emulator.codedeploy.engine import Engine, EngineServices
from gitops_harness.emulator.codedeploy.models import (
    Application,
    CodeDeployState,
    Deployment,
    DeploymentGroup,
    deployment_id,
)
from gitops_harness.emulator.codedeploy.validation import validate_group
from gitops_harness.emulator.common.events import EventPublisher
from gitops_harness.emulator.common.pagination import paginate
from gitops_harness.emulator.common.tags import TagErrors, TagStore, tags_from_list, tags_to_list
from gitops_harness.emulator.controlplane import ControlPlane, RequestContext, Runtime, Store
from gitops_harness.emulator.exceptions import ModeledErrors

_GROUP_KEYS = (
    "deploymentConfigName",
    "ec2TagFilters",
    "onPremisesInstanceTagFilters",
    "autoScalingGroups",
    "serviceRoleArn",
    "triggerConfigurations",
    "alarmConfiguration",
    "autoRollbackConfiguration",
    "outdatedInstancesStrategy",
    "deploymentStyle",
    "blueGreenDeploymentConfiguration",
    "loadBalancerInfo",
    "ec2TagSet",
    "ecsServices",
    "onPremisesTagSet",
    "terminationHookEnabled",
)


class CodeDeploy(ControlPlane):
    service_name = "codedeploy"
    validation_error_code = "InvalidInputException"
    errors = ModeledErrors("codedeploy")

    def __init__(self, runtime: Runtime):
        super().__init__(runtime)
        self.store: Store[CodeDeployState] = Store(CodeDeployState)
        self.engine = Engine(
            EngineServices(
                lock=self.lock,
                scheduler=runtime.scheduler,
                clients=runtime.clients,
                publisher=EventPublisher.through(runtime),
                group_of=self._group_of,
                create_rollback=self.create_rollback,
            )
        )
        # keys: application and deployment group ARNs; AWS's 50-tag limit, InvalidTagsToAddException
        self.tags = TagStore(
            TagErrors(
                too_many=self.errors.InvalidTagsToAddException, invalid=self.errors.InvalidTagsToAddException
            )
        )

    def _page(self, items: list[Any], request: dict[str, Any]) -> tuple[list[Any], str | None]:
        return paginate(
            items, request.get("nextToken"), 100, invalid_token=self.errors.InvalidNextTokenException
        )

    def reset(self) -> None:
        super().reset()
        self.tags.reset()

    # ---- lookups -------------------------------------------------------------------------------

    def _application(self, ctx: RequestContext, name: str) -> Application:
        application = self.store[ctx].applications.get(name)
        if application is None:
            raise self.errors.ApplicationDoesNotExistException(f"No application found for name: {name}")
        return application

    def _group(self, ctx: RequestContext, application: str, name: str) -> DeploymentGroup:
        self._application(ctx, application)
        group = self.store[ctx].groups.get((application, name))
        if group is None:
            raise self.errors.DeploymentGroupDoesNotExistException(
                f"No Deployment Group found for name: {name}"
            )
        return group

    def _config(self, ctx: RequestContext, name: str) -> DeploymentConfig:
        config = PREDEFINED.get(name) or self.store[ctx].configs.get(name)
        if config is None:
            raise self.errors.DeploymentConfigDoesNotExistException(
                f"No deployment configuration found for name: {name}"
            )
        return config

    def _deployment(self, ctx: RequestContext, identifier: str) -> Deployment:
        deployment = self.store[ctx].deployments.get(identifier)
        if deployment is None:
            raise self.errors.DeploymentDoesNotExistException(
                f"The deployment {identifier} could not be found."
            )
        return deployment

    def _arn(self, ctx: RequestContext, kind: str, name: str) -> str:
        """An application ("application", name) or group ("deploymentgroup", "app/group") ARN."""
        return f"arn:aws:codedeploy:{ctx.region}:{ctx.account_id}:{kind}:{name}"

    def _tagged(self, ctx: RequestContext, arn: str) -> str:
        """`arn` if it names an application or deployment group of this account and region."""
        state = self.store[ctx]
        prefix = self._arn(ctx, "", "")[:-2]
        kind, _, name = arn.removeprefix(prefix + ":").partition(":")
        application, _, group = name.partition("/")
        if arn.startswith(prefix + ":") and (
            (kind == "application" and name in state.applications)
            or (kind == "deploymentgroup" and (application, group) in state.groups)
        ):
            return arn
        raise self.errors.ArnNotSupportedException(
            f"The specified ARN is not supported or does not exist: {arn}"
        )

    def _move_tags(self, old_arn: str, new_arn: str) -> None:
        tags = self.tags.get(old_arn)
        self.tags.drop(old_arn)
        if tags:
            self.tags.tag(new_arn, tags)

    # ---- applications --------------------------------------------------------------------------

    def CreateApplication(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        name = request["applicationName"]
        if name in state.applications:
            raise self.errors.ApplicationAlreadyExistsException(f"{name} already exists in your account")
        application = Application(name, str(uuid.uuid4()), request.get("computePlatform") or "Server")
        self.tags.tag(self._arn(ctx, "application", name), tags_from_list(request.get("tags"), "Key"))
        state.applications[name] = application
        return {"applicationId": application.application_id}

    def _application_info(self, application: Application) -> dict[str, Any]:
        return {
            "applicationId": application.application_id,
            "applicationName": application.name,
            "createTime": application.created,
            "linkedToGitHub": False,
            "computePlatform": application.compute_platform,
        }

    def GetApplication(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {"application": self._application_info(self._application(ctx, request["applicationName"]))}

    def BatchGetApplications(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        names = request["applicationNames"]
        if len(names) > 100:
            raise self.errors.BatchLimitExceededException(
                "The maximum number of names or IDs allowed for this request (100) was exceeded."
            )
        return {"applicationsInfo": [self._application_info(self._application(ctx, n)) for n in names]}

    def ListApplications(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        page, token = self._page(sorted(self.store[ctx].applications), request)
        answer: dict[str, Any] = {"applications": page}
        if token:
            answer["nextToken"] = token
        return answer

    def UpdateApplication(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        application = self._application(ctx, request.get("applicationName") or "")
        new = request.get("newApplicationName") or application.name
        if new != application.name:
            if new in state.applications:
                raise self.errors.ApplicationAlreadyExistsException(f"{new} already exists in your account")
            old = application.name
            state.applications[new] = state.applications.pop(old)
            self._move_tags(self._arn(ctx, "application", old), self._arn(ctx, "application", new))
            for key in [k for k in state.groups if k[0] == old]:
                group = state.groups.pop(key)
                group.application = new
                state.groups[(new, key[1])] = group
                self._move_tags(
                    self._arn(ctx, "deploymentgroup", f"{old}/{key[1]}"),
                    self._arn(ctx, "deploymentgroup", f"{new}/{key[1]}"),
                )
            application.name = new
        return {}

    def DeleteApplication(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        name = request["applicationName"]
        state.applications.pop(name, None)  # AWS answers success for an application that does not exist
        self.tags.drop(self._arn(ctx, "application", name))
        for key in [k for k in state.groups if k[0] == name]:
            del state.groups[key]
            self.tags.drop(self._arn(ctx, "deploymentgroup", f"{name}/{key[1]}"))
        return {}

    # ---- deployment configs --------------------------------------------------------------------

    def CreateDeploymentConfig(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        name = request["deploymentConfigName"]
        if name in state.configs or name in PREDEFINED:
            raise self.errors.DeploymentConfigAlreadyExistsException(
                f"A deployment configuration with the name {name} already exists"
            )
        if name.startswith("CodeDeployDefault."):
            raise self.errors.InvalidDeploymentConfigNameException(
                "Deployment configuration names cannot start with CodeDeployDefault."
            )
        platform = request.get("computePlatform") or "Server"
        routing = request.get("trafficRoutingConfig")
        problem = invalid_routing(routing)
        if problem:
            raise self.errors.InvalidTrafficRoutingConfigurationException(problem)
        if platform == "ECS" and not routing:
            raise self.errors.InvalidTrafficRoutingConfigurationException(
                "An ECS deployment configuration needs a trafficRoutingConfig"
            )
        if platform == "Server" and not request.get("minimumHealthyHosts"):
            raise self.errors.InvalidMinimumHealthyHostValueException(
                "A Server deployment configuration needs minimumHealthyHosts"
            )
        config = DeploymentConfig(
            name,
            str(uuid.uuid4()),
            platform,
            copy.deepcopy(routing),
            copy.deepcopy(request.get("minimumHealthyHosts")),
        )
        state.configs[name] = config
        return {"deploymentConfigId": config.config_id}

    def GetDeploymentConfig(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentConfigInfo": self._config(ctx, request["deploymentConfigName"]).to_api()}

    def ListDeploymentConfigs(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        names = sorted([*PREDEFINED, *self.store[ctx].configs])
        page, token = self._page(names, request)
        answer: dict[str, Any] = {"deploymentConfigsList": page}
        if token:
            answer["nextToken"] = token
        return answer

    def DeleteDeploymentConfig(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        name = request["deploymentConfigName"]
        if name in PREDEFINED:
            raise self.errors.InvalidOperationException(
                "The deployment configuration is predefined and cannot be deleted"
            )
        if any(g.config_name == name for g in state.groups.values()):
            raise self.errors.DeploymentConfigInUseException(f"The deployment configuration {name} is in use")
        state.configs.pop(name, None)
        return {}

    # ---- deployment groups ---------------------------------------------------------------------

    def CreateDeploymentGroup(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        application = self._application(ctx, request["applicationName"])
        name = request["deploymentGroupName"]
        if (application.name, name) in state.groups:
            raise self.errors.DeploymentGroupAlreadyExistsException(
                f"A deployment group named {name} already exists for application {application.name}"
            )
        config = {k: copy.deepcopy(request[k]) for k in _GROUP_KEYS if k in request}
        self._config(ctx, config.get("deploymentConfigName") or "CodeDeployDefault.OneAtATime")
        validate_group(self.runtime.clients, ctx.region, application.compute_platform, config)
        group = DeploymentGroup(application.name, name, str(uuid.uuid4()), config)
        tags = tags_from_list(request.get("tags"), "Key")
        self.tags.tag(self._arn(ctx, "deploymentgroup", f"{application.name}/{name}"), tags)
        state.groups[(application.name, name)] = group
        return {"deploymentGroupId": group.group_id}

    def _group_info(self, ctx: RequestContext, group: DeploymentGroup) -> dict[str, Any]:
        application = self._application(ctx, group.application)
        info: dict[str, Any] = {
            "applicationName": group.application,
            "deploymentGroupId": group.group_id,
            "deploymentGroupName": group.name,
            "deploymentConfigName": group.config_name,
            "computePlatform": application.compute_platform,
            **copy.deepcopy(group.config),
        }
        deployments = self.store[ctx].deployments
        for key, identifier in (
            ("lastAttemptedDeployment", group.last_attempted),
            ("lastSuccessfulDeployment", group.last_succeeded),
        ):
            deployment = deployments.get(identifier or "")
            if deployment is not None:
                last: dict[str, Any] = {
                    "deploymentId": deployment.deployment_id,
                    "status": deployment.status,
                    "createTime": deployment.created,
                }
                if deployment.completed:
                    last["endTime"] = deployment.completed
                info[key] = last
        return info

    def GetDeploymentGroup(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        group = self._group(ctx, request["applicationName"], request["deploymentGroupName"])
        return {"deploymentGroupInfo": self._group_info(ctx, group)}

    def BatchGetDeploymentGroups(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        application = self._application(ctx, request["applicationName"])
        infos, missing = [], []
        for name in request["deploymentGroupNames"]:
            group = self.store[ctx].groups.get((application.name, name))
            if group is None:
                missing.append(name)
            else:
                infos.append(self._group_info(ctx, group))
        answer: dict[str, Any] = {"deploymentGroupsInfo": infos}
        if missing:
            answer["errorMessage"] = "Deployment groups not found: " + ", ".join(missing)
        return answer

    def ListDeploymentGroups(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        application = self._application(ctx, request["applicationName"])
        names = sorted(name for app, name in self.store[ctx].groups if app == application.name)
        page, token = self._page(names, request)
        answer: dict[str, Any] = {"applicationName": application.name, "deploymentGroups": page}
        if token:
            answer["nextToken"] = token
        return answer

    def UpdateDeploymentGroup(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        group = self._group(ctx, request["applicationName"], request["currentDeploymentGroupName"])
        new_name = request.get("newDeploymentGroupName") or group.name
        if new_name != group.name and (group.application, new_name) in state.groups:
            raise self.errors.DeploymentGroupAlreadyExistsException(
                f"A deployment group named {new_name} already exists for application {group.application}"
            )
        config = copy.deepcopy(group.config)
        config.update({k: copy.deepcopy(request[k]) for k in _GROUP_KEYS if k in request})
        self._config(ctx, config.get("deploymentConfigName") or "CodeDeployDefault.OneAtATime")
        platform = self._application(ctx, group.application).compute_platform
        validate_group(self.runtime.clients, ctx.region, platform, config)
        group.config = config
        if new_name != group.name:
            self._move_tags(
                self._arn(ctx, "deploymentgroup", f"{group.application}/{group.name}"),
                self._arn(ctx, "deploymentgroup", f"{group.application}/{new_name}"),
            )
            del state.groups[(group.application, group.name)]
            group.name = new_name
            state.groups[(group.application, new_name)] = group
        return {"hooksNotCleanedUp": []}

    def DeleteDeploymentGroup(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        application = self._application(ctx, request["applicationName"]).name
        group = request["deploymentGroupName"]
        self.store[ctx].groups.pop((application, group), None)
        self.tags.drop(self._arn(ctx, "deploymentgroup", f"{application}/{group}"))
        return {"hooksNotCleanedUp": []}

    # ---- deployments ---------------------------------------------------------------------------

    def CreateDeployment(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        state = self.store[ctx]
        application = self._application(ctx, request["applicationName"])
        if not request.get("deploymentGroupName"):
            raise self.errors.DeploymentGroupNameRequiredException("Deployment Group name is required")
        group = self._group(ctx, application.name, request["deploymentGroupName"])
        if application.compute_platform != "ECS":
            raise self.errors.InvalidComputePlatformException(
                f"The embedded AWS runs ECS deployments only; application {application.name} uses "
                f"{application.compute_platform}"
            )
        revision = request.get("revision")
        if not revision:
            raise self.errors.RevisionRequiredException("Revision is required")
        config = self._config(ctx, request.get("deploymentConfigName") or group.config_name)
        if config.compute_platform != "ECS":
            raise self.errors.InvalidDeploymentConfigNameException(
                f"The deployment configuration {config.name} is not for the ECS compute platform"
            )
        active = state.deployments.get(group.active or "")
        if active is not None and not active.done:
            raise self.errors.DeploymentAlreadyStartedException(
                f"The deployment group {group.name} has an active deployment: {active.deployment_id}"
            )
        appspec = parse_appspec(revision)
        deployment = self._new_deployment(ctx, group, config, copy.deepcopy(revision), "user", appspec)
        deployment.description = request.get("description")
        self.engine.start(deployment)
        return {"deploymentId": deployment.deployment_id}

    def _new_deployment(
        self,
        ctx: RequestContext | tuple[str, str],
        group: DeploymentGroup,
        config: DeploymentConfig,
        revision: dict[str, Any],
        creator: str,
        appspec: dict[str, Any],
    ) -> Deployment:
        account, region = (ctx.account_id, ctx.region) if isinstance(ctx, RequestContext) else ctx
        state = self.store.get(account, region)
        service = group.config["ecsServices"][0]
        deployment = Deployment(
            deployment_id=deployment_id(),
            application=group.application,
            group=group.name,
            config=config,
            revision=revision,
            creator=creator,
            account_id=account,
            region=region,
            wake=self.runtime.scheduler.signal("deployment"),
            group_snapshot=copy.deepcopy(group.config),
            appspec=appspec,
            cluster=service["clusterName"],
            service=service["serviceName"],
        )
        state.deployments[deployment.deployment_id] = deployment
        group.active = group.last_attempted = deployment.deployment_id
        return deployment

    def _group_of(self, deployment: Deployment) -> DeploymentGroup | None:
        return self.store.get(deployment.account_id, deployment.region).groups.get(
            (deployment.application, deployment.group)
        )

    def create_rollback(self, failed: Deployment) -> Deployment | None:
        """The rollback deployment of a failed one (engine side; the caller runs it)."""
        with self.lock:
            group = self.store.get(failed.account_id, failed.region).groups.get(
                (failed.application, failed.group)
            )
            if group is None:
                return None
            rollback = self._new_deployment(
                (failed.account_id, failed.region),
                group,
                failed.config,
                copy.deepcopy(failed.revision),
                "codeDeployRollback",
                failed.appspec,
            )
            rollback.group_snapshot = copy.deepcopy(failed.group_snapshot)
            rollback.status = "Created"
            rollback.rollback_info = {
                "rollbackTriggeringDeploymentId": failed.deployment_id,
                "rollbackMessage": f"Deployment was created to roll back {failed.deployment_id}",
            }
            failed.rollback_info = {
                "rollbackDeploymentId": rollback.deployment_id,
                "rollbackMessage": f"Active deployment rolled back by: {rollback.deployment_id}",
            }
            return rollback

    def _overview(self, deployment: Deployment) -> dict[str, int]:
        overview = dict.fromkeys(("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0)
        key = deployment.target_status if deployment.target_status in overview else "Pending"
        overview[key] = 1
        return overview

    def _deployment_info(self, deployment: Deployment) -> dict[str, Any]:
        snapshot = deployment.group_snapshot
        info: dict[str, Any] = {
            "applicationName": deployment.application,
            "deploymentGroupName": deployment.group,
            "deploymentConfigName": deployment.config.name,
            "deploymentId": deployment.deployment_id,
            "revision": copy.deepcopy(deployment.revision),
            "status": deployment.status,
            "createTime": deployment.created,
            "deploymentOverview": self._overview(deployment),
            "creator": deployment.creator,
            "ignoreApplicationStopFailures": False,
            "updateOutdatedInstancesOnly": False,
            "instanceTerminationWaitTimeStarted": deployment.termination_wait_started,
            "computePlatform": "ECS",
            "fileExistsBehavior": "DISALLOW",
        }
        for key in (
            "autoRollbackConfiguration",
            "deploymentStyle",
            "blueGreenDeploymentConfiguration",
            "loadBalancerInfo",
        ):
            if key in snapshot:
                info[key] = copy.deepcopy(snapshot[key])
        for key, value in (
            ("startTime", deployment.started),
            ("completeTime", deployment.completed),
            ("errorInformation", deployment.error),
            ("rollbackInfo", deployment.rollback_info),
            ("description", deployment.description),
        ):
            if value:
                info[key] = copy.deepcopy(value)
        if deployment.messages:
            info["deploymentStatusMessages"] = list(deployment.messages)
        return info

    def GetDeployment(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentInfo": self._deployment_info(self._deployment(ctx, request["deploymentId"]))}

    def BatchGetDeployments(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        ids = request["deploymentIds"]
        if len(ids) > 25:
            raise self.errors.BatchLimitExceededException(
                "The maximum number of names or IDs allowed for this request (25) was exceeded."
            )
        deployments = self.store[ctx].deployments
        return {"deploymentsInfo": [self._deployment_info(deployments[i]) for i in ids if i in deployments]}

    def ListDeployments(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        application = request.get("applicationName")
        group = request.get("deploymentGroupName")
        if group and not application:
            raise self.errors.ApplicationNameRequiredException(
                "An application name is required with a deployment group name"
            )
        if application and group:
            self._group(ctx, application, group)
        elif application:
            self._application(ctx, application)
        statuses = set(request.get("includeOnlyStatuses") or [])
        window = request.get("createTimeRange") or {}
        found = [
            d
            for d in reversed(self.store[ctx].deployments.values())
            if (not application or d.application == application)
            and (not group or d.group == group)
            and (not statuses or d.status in statuses)
            and (not window.get("start") or d.created >= window["start"])
            and (not window.get("end") or d.created <= window["end"])
        ]
        page, token = self._page([d.deployment_id for d in found], request)
        answer: dict[str, Any] = {"deployments": page}
        if token:
            answer["nextToken"] = token
        return answer

    def ContinueDeployment(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(ctx, request["deploymentId"])
        wait_type = request.get("deploymentWaitType") or "READY_WAIT"
        if deployment.done:
            raise self.errors.DeploymentAlreadyCompletedException(
                f"The deployment {deployment.deployment_id} has already completed"
            )
        if wait_type == "READY_WAIT" and deployment.waiting_for != "READY_WAIT":
            raise self.errors.DeploymentIsNotInReadyStateException(
                f"The deployment {deployment.deployment_id} is not in the Ready state (status {deployment.status})"
            )
        if wait_type == "TERMINATION_WAIT" and deployment.waiting_for != "TERMINATION_WAIT":
            raise self.errors.InvalidDeploymentStatusException(
                f"The deployment {deployment.deployment_id} is not waiting to terminate the original task set"
            )
        deployment.continue_requests.add(wait_type)
        deployment.wake.set()
        return {}

    def StopDeployment(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        deployment = self._deployment(ctx, request["deploymentId"])
        if deployment.done:
            raise self.errors.DeploymentAlreadyCompletedException(
                f"The deployment {deployment.deployment_id} has already completed"
            )
        deployment.stop_request = {"rollback": bool(request.get("autoRollbackEnabled"))}
        deployment.wake.set()
        return {"status": "Pending", "statusMessage": "Stop of the deployment is in progress"}

    def PutLifecycleEventHookExecutionStatus(
        self, ctx: RequestContext, request: dict[str, Any]
    ) -> dict[str, Any]:
        deployment = self._deployment(ctx, request["deploymentId"])
        execution_id = request.get("lifecycleEventHookExecutionId") or ""
        hook = deployment.hooks.get(execution_id)
        if hook is None:
            raise self.errors.InvalidLifecycleEventHookExecutionIdException(
                f"The lifecycle event hook execution id {execution_id} is not valid for deployment {deployment.deployment_id}"
            )
        status = request.get("status")
        if status not in ("Succeeded", "Failed"):
            raise self.errors.InvalidLifecycleEventHookExecutionStatusException(
                f"The status {status} is not valid: use Succeeded or Failed"
            )
        if hook.status != "Pending" or deployment.done:
            raise self.errors.LifecycleEventAlreadyCompletedException(
                f"The lifecycle event {hook.event} of deployment {deployment.deployment_id} has already completed"
            )
        hook.status = status
        deployment.wake.set()
        return {"lifecycleEventHookExecutionId": execution_id}

    # ---- deployment targets --------------------------------------------------------------------

    def _started(self, ctx: RequestContext, identifier: str) -> Deployment:
        deployment = self._deployment(ctx, identifier)
        if deployment.status == "Created":
            raise self.errors.DeploymentNotStartedException(f"The deployment {identifier} has not started")
        return deployment

    def _target(self, ctx: RequestContext, deployment: Deployment) -> dict[str, Any]:
        return {
            "deploymentTargetType": "ECSTarget",
            "ecsTarget": {
                "deploymentId": deployment.deployment_id,
                "targetId": deployment.target_id,
                "targetArn": f"arn:aws:ecs:{ctx.region}:{ctx.account_id}:service/{deployment.cluster}/{deployment.service}",
                "lastUpdatedAt": deployment.target_updated,
                "lifecycleEvents": [run.to_api() for run in deployment.events.values()],
                "status": deployment.target_status,
                "taskSetsInfo": [t.to_api() for t in deployment.task_sets],
            },
        }

    def ListDeploymentTargets(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        deployment = self._started(ctx, request["deploymentId"])
        filters = request.get("targetFilters") or {}
        statuses = filters.get("TargetStatus")
        if statuses and deployment.target_status not in statuses:
            return {"targetIds": []}
        return {"targetIds": [deployment.target_id]}

    def GetDeploymentTarget(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        deployment = self._started(ctx, request["deploymentId"])
        target = request.get("targetId")
        if not target:
            raise self.errors.DeploymentTargetIdRequiredException("A deployment target ID is required")
        if target != deployment.target_id:
            raise self.errors.DeploymentTargetDoesNotExistException(
                f"The target {target} does not exist in deployment {deployment.deployment_id}"
            )
        return {"deploymentTarget": self._target(ctx, deployment)}

    def BatchGetDeploymentTargets(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        deployment = self._started(ctx, request["deploymentId"])
        targets = request.get("targetIds") or []
        if len(targets) > 25:
            raise self.errors.DeploymentTargetListSizeExceededException("At most 25 target ids are allowed")
        for target in targets:
            if target != deployment.target_id:
                raise self.errors.DeploymentTargetDoesNotExistException(
                    f"The target {target} does not exist in deployment {deployment.deployment_id}"
                )
        return {"deploymentTargets": [self._target(ctx, deployment) for _ in targets]}

    # ---- tags ----------------------------------------------------------------------------------

    def TagResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        self.tags.tag(self._tagged(ctx, request["ResourceArn"]), tags_from_list(request["Tags"], "Key"))
        return {}

    def UntagResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        self.tags.untag(self._tagged(ctx, request["ResourceArn"]), request["TagKeys"])
        return {}

    def ListTagsForResource(self, ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": tags_to_list(self.tags.get(self._tagged(ctx, request["ResourceArn"])), "Key")}
