"""The GitHub repository: governance, deployment environments, the CI contract and the generated workflow files."""
