"""One module per output format. Renderers return text or Rich renderables and
never print; `emit` is the only place that writes to stdout."""
