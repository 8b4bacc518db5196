"""LocalStack plugin: ecs-gitops-harness's control planes served by LocalStack's gateway.

runtime.py   the planes' shared Runtime inside LocalStack's process (scheduler, role clients against
             LocalStack's own gateway, a state folder under LocalStack's)
adapter.py   ONE adapter: LocalStack RequestContext -> a plane's handler, moto fallback for the rest
providers.py the `localstack.aws.provider` entry points, one per service
routes.py    git smart HTTP and the plugin's health route on LocalStack's router
gitcredentials.py  git pushes authenticate with the HTTPS Git credentials LocalStack's IAM issues
eventbridge.py     LocalStack's EventBridge delivers CodePipeline (and plane-served) rule targets to the planes
"""

__version__ = "0.1.0"
