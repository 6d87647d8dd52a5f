"""Where things live in the GitOps repository: the one definition both sides use.

The delivery workflows write each service's image to its image file and Argo CD's
Applications read it from there, so the path is built only here (pure; no Pulumi).
The workflows' bash scripts get their paths from these functions too, called with shell
variables (``image_file("$target", "$service")``) instead of a literal layout.
"""

from __future__ import annotations

# Default of gitops.clustersPath: one manifest directory per environment below it.
CLUSTERS_PATH = "gitops/clusters"
IMAGES = "images"
IMAGE_FILE_SUFFIX = ".yaml"
# The image values contract (docs/promotion.md, "Images by digest"): an image file is Helm values
#   image:
#     repository: ghcr.io/<owner>/<service>
#     tag: "<commit>@sha256:<digest>"      # `repository:tag` is pinned too (helm create charts)
#     digest: sha256:<digest>
#     reference: ghcr.io/<owner>/<service>@sha256:<digest>   # what a chart should render
# Every form a chart may render names the digest, so a tag re-pointed in the registry after
# validation changes nothing that runs; the clusters' admission policy refuses the rest.
IMAGE_REFERENCE_KEY = "reference"
# The promoted environment's Applications track this branch, never `main`: promote.yml moves
# it after the environment's approval, to a commit whose tree is the validated revision's
# (docs/promotion.md).
RELEASE_BRANCH_PREFIX = "release/"
# The label every Application of an environment carries: staging validation selects staging's
# Applications by it to learn what staging runs.
LABEL_ENVIRONMENT = "delivery.ai-aas.io/environment"


def release_branch(environment: str) -> str:
    """The branch a promoted environment's Applications track (`release/production`)."""
    return f"{RELEASE_BRANCH_PREFIX}{environment}"


def environment_dir(clusters_path: str, environment: str) -> str:
    """`<clustersPath>/<env>`: the environment's manifest directory (its infrastructure
    Application's path)."""
    return f"{clusters_path}/{environment}"


def images_dir(environment_dir: str) -> str:
    """The directory of an environment's image files, below its manifest directory.

    Argo CD reads directory sources without recursion by default, so these Helm values
    files are not taken for manifests by the infrastructure Application.
    """
    return f"{environment_dir}/{IMAGES}"


def image_file(environment_dir: str, service: str) -> str:
    """A service's image in one environment: Helm values `image: {repository, tag, digest,
    reference}` (the contract above)."""
    return f"{images_dir(environment_dir)}/{service}{IMAGE_FILE_SUFFIX}"
