"""CKV_GITOPS_3: pipeline artifact stores are encrypted with a customer-managed KMS key."""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckResult

from gitops_cfn import Template, TemplateCheck, as_list, properties

# The AWS managed key cannot be shared with another account, so a cross-account source action fails.
AWS_MANAGED_S3_KEY = "alias/aws/s3"


def artifact_stores(props: dict[str, Any]) -> list[Any]:
    stores = [props["ArtifactStore"]] if "ArtifactStore" in props else []
    stores += [s.get("ArtifactStore") for s in as_list(props.get("ArtifactStores")) if isinstance(s, dict)]
    return stores


def uses_customer_managed_key(template: Template, store: Any) -> bool:
    if not isinstance(store, dict):
        return False
    key = store.get("EncryptionKey")
    if not isinstance(key, dict) or template.resolve(key.get("Type")) != "KMS":
        return False
    key_id = template.resolve(key.get("Id"))
    if isinstance(key_id, str):
        return bool(key_id) and not key_id.endswith(AWS_MANAGED_S3_KEY)
    return key_id is not None  # a reference to a key or alias resource, an import, a parameter


class ArtifactStoreCustomerManagedKey(TemplateCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure pipeline artifact stores are encrypted with a customer-managed KMS key (not aws/s3)",
            check_id="CKV_GITOPS_3",
            anchor="ckv_gitops_3",
            resource_types=("AWS::CodePipeline::Pipeline",),
        )

    def scan_in_template(self, template: Template, logical_id: str, resource: dict[str, Any]) -> CheckResult:
        stores = artifact_stores(properties(resource))
        if stores and all(uses_customer_managed_key(template, s) for s in stores):
            return CheckResult.PASSED
        return CheckResult.FAILED


check = ArtifactStoreCustomerManagedKey()
