"""Object Storage: the CI build metrics bucket and its config model."""
