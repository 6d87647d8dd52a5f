"""Helpers every in-cluster domain uses: the provider check, the admission policies that
judge the platform's Pods and the namespaces' network isolation. Imports no domain; the
domains meet it in ``__main__.py``."""
