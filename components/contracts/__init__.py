"""Names two domains share: the GitOps tree layout, event names, selector labels, the
delivery-event record (its JSON Schema beside `delivery_events.py`). Pure; no
resources, no imports from a domain (DESIGN.md)."""
