"""What every in-cluster domain uses: the provider check and the namespaces' network isolation."""
