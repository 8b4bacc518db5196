"""Shape-test requests for the IAM operations our partial plane answers (service-specific credentials);
the user is created in moto's IAM through the same front door (CreateUser is moto's)."""

from __future__ import annotations

from typing import Any

from gitops_harness.emulator.iam.plane import IamServiceSpecificCredentials
from shape_samples import Answers, Sample

ACCOUNT = "111111111111"
USER = "shape-git-user"


def samples(plane: IamServiceSpecificCredentials) -> list[Sample]:
    def create(_: Answers) -> dict[str, Any]:
        plane.runtime.clients.for_account("iam", ACCOUNT).create_user(UserName=USER)
        return {"UserName": USER, "ServiceName": "codecommit.amazonaws.com"}

    def credential(answers: Answers) -> str:
        return str(
            answers["CreateServiceSpecificCredential"]["ServiceSpecificCredential"][
                "ServiceSpecificCredentialId"
            ]
        )

    return [
        Sample("CreateServiceSpecificCredential", create),
        Sample("ListServiceSpecificCredentials", {"UserName": USER}),
        Sample(
            "UpdateServiceSpecificCredential",
            lambda a: {"UserName": USER, "ServiceSpecificCredentialId": credential(a), "Status": "Inactive"},
        ),
        Sample(
            "ResetServiceSpecificCredential",
            lambda a: {"UserName": USER, "ServiceSpecificCredentialId": credential(a)},
        ),
        Sample(
            "DeleteServiceSpecificCredential",
            lambda a: {"UserName": USER, "ServiceSpecificCredentialId": credential(a)},
        ),
    ]
