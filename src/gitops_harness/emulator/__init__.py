"""The embedded AWS: one front door routing by SigV4 credential scope to our control planes or to moto.

Kept import-light on purpose: importing a subpackage must not load moto. Start it with
`gitops_harness.emulator.server.EmbeddedAWS` or `gitops-harness emulator`; see docs/emulator.md.
"""
