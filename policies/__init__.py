"""gitops-harness custom checkov checks (loaded by `checkov --external-checks-dir policies`)."""
