"""ecs-gitops-harness: test and police a GitLab -> CodeCommit -> CodePipeline -> ECS blue/green pipeline."""

__version__ = "0.1.0"
