"""The ground floor: helpers every app may use. Nothing here imports an app; see
docs/ARCHITECTURE.md#apps-and-layers."""
