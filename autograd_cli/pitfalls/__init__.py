"""`agrad pitfalls`: the mistakes every learner makes with autograd, run for real.

`cases.py` holds each pitfall as data (the code of the mistake, what torch is
expected to do, why, the fix); `facts.py` the plain facts a run gives (no tensors);
`run.py` runs both pieces of code on the installed torch and captures what it said.
"""

from __future__ import annotations

NAME = "pitfalls"  # the command, and the JSON's "command"
