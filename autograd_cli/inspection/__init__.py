"""torch -> model: turns live tensors and grad_fn nodes into plain facts."""
