"""The stack configuration: shared types and errors (`base`), the whole-stack model
(`stack`), the rules that span domains, one module per concern (`rules`), the translation of
pydantic's errors into key paths (`errors`), the loader, the only code that reads
`pulumi.Config` (`loader`). Each domain's own models live beside it (`components.<domain>.config`)."""
