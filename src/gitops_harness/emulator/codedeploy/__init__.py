"""The CodeDeploy control plane (ECS blue/green) and its deployment engine."""
