"""Infrastructure as code: the CDK Terrain (cdktn) stack of each environment.

`python infra/main.py [ENV ...]` synthesizes `cdktf.out/stacks/<env>/cdk.tf.json`; the
Makefile's `synth`, `plan`, `deploy` and `destroy` targets wrap it. Never imported by what
ships: no function bundle, no image contains this package.
"""
