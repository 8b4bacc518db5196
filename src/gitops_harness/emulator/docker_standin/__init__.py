"""A daemonless `docker` for CodeBuild builds in the embedded AWS: builds OCI images from Dockerfiles
and pushes them to the emulated ECR. `launcher.environment()` puts it on a build's PATH."""
