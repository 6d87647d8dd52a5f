"""Where things live in the GitOps repository: the one definition both sides use.

The delivery workflows write each service's image to its image file and Argo CD's
Applications read it from there, so the path is built only here (pure; no Pulumi).
The workflows' bash scripts get their paths from these functions too, called with shell
variables (``image_file("$target", "$service")``) instead of a literal layout.
"""

from __future__ import annotations

IMAGES = "images"
IMAGE_FILE_SUFFIX = ".yaml"


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
    """A service's image in one environment: Helm values `image: {repository, tag, digest}`."""
    return f"{images_dir(environment_dir)}/{service}{IMAGE_FILE_SUFFIX}"
