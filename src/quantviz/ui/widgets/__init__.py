"""The widgets a lab marker places: one module per widget, each a `render(ctx)` (ui.registry)."""
