"""Names two domains share: the GitOps tree layout, event names, selector labels. Pure; no
resources, no imports from a domain (DESIGN.md)."""
