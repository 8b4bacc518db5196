"""Reading an ALB listener with ELBv2's public API, as on a real account: the URL a client uses
(the load balancer's DNSName and the listener's port) and the weights of its forward action."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gitops_harness.config import Accounts
from gitops_harness.listeners import forward_weights
from gitops_harness.targets import Target

ACCOUNT = "123456789012"  # moto's default account under mock_aws


class PlainAWS(Target):
    """A target on AWS's own endpoints (here moto's mock_aws): the base class's listener_url."""

    name = "plain-aws"

    def start(self) -> PlainAWS:
        self._capabilities = frozenset()
        return self

    def stop(self) -> None:
        pass

    @property
    def endpoint_url(self) -> None:
        return None

    def credentials(self, account_id: str) -> dict[str, str]:
        return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

    def _discover_capabilities(self) -> frozenset[str]:
        return frozenset()


@pytest.fixture
def alb() -> Iterator[dict[str, Any]]:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"us-east-1{z}")[
                "Subnet"
            ]["SubnetId"]
            for n, z in ((1, "a"), (2, "b"))
        ]
        elbv2 = boto3.client("elbv2", region_name="us-east-1")
        balancer = elbv2.create_load_balancer(Name="lb", Subnets=subnets)["LoadBalancers"][0]
        groups = [
            elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")[
                "TargetGroups"
            ][0]["TargetGroupArn"]
            for name in ("blue", "green")
        ]
        listener = elbv2.create_listener(
            LoadBalancerArn=balancer["LoadBalancerArn"],
            Protocol="HTTP",
            Port=8080,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[0]}],
        )["Listeners"][0]["ListenerArn"]
        yield {"elbv2": elbv2, "balancer": balancer, "groups": groups, "listener": listener}


def test_listener_url_is_the_dns_name_and_port(alb):
    target = PlainAWS(Accounts(management=ACCOUNT, pipeline=ACCOUNT), "us-east-1").start()
    assert target.listener_url(alb["listener"]) == f"http://{alb['balancer']['DNSName']}:8080/"


def test_forward_weights_read_single_and_weighted_actions(alb):
    elbv2, (blue, green), listener = alb["elbv2"], alb["groups"], alb["listener"]
    assert forward_weights(elbv2, listener) == {"blue": 100.0}
    elbv2.modify_listener(
        ListenerArn=listener,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": blue, "Weight": 90},
                        {"TargetGroupArn": green, "Weight": 10},
                    ]
                },
            }
        ],
    )
    assert forward_weights(elbv2, listener) == {"blue": 90.0, "green": 10.0}
