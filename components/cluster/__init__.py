"""The LKE cluster: its config models and the component that declares it."""
