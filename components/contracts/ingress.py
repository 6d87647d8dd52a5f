"""Names the ingress add-ons and the services' charts share (pure; no Pulumi).

The ingress domain declares the IngressClass and the ClusterIssuers under these names; the
GitOps domain hands them to every service chart (the Application's valuesObject), whose
Ingress names the class and asks cert-manager for a certificate from the issuer.
"""

from __future__ import annotations

from typing import Literal

INGRESS_CLASS = "nginx"
# Let's Encrypt's production CA (browser-trusted, rate-limited) and its staging CA (untrusted
# certificates, generous limits) for clusters that only try things out.
LETSENCRYPT_PROD = "letsencrypt-prod"
LETSENCRYPT_STAGING = "letsencrypt-staging"
ClusterIssuerName = Literal["letsencrypt-prod", "letsencrypt-staging"]
ACME_SERVERS: dict[str, str] = {
    LETSENCRYPT_PROD: "https://acme-v02.api.letsencrypt.org/directory",
    LETSENCRYPT_STAGING: "https://acme-staging-v02.api.letsencrypt.org/directory",
}
