"""Helpers every in-cluster domain uses: provider checks and the admission policies that
judge the platform's Pods. Imports no domain; the domains meet it in ``__main__.py``."""
