"""CodePipeline: the control plane (plane.py) and the execution engine (engine.py) with its action types."""
