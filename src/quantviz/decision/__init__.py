"""The deployment decision: KV cache and fit arithmetic, and the facts it is decided on."""
