"""The stack configuration: shared types and errors (`base`), the whole-stack model and its
cross-domain rules (`stack`), the loader, the only code that reads `pulumi.Config` (`loader`).
Each domain's own models live beside it (`components.<domain>.config`)."""
