"""`agrad expr`: untrusted expression text, parsed with `ast`, checked against a
whitelist, and evaluated by agrad's own tree walker. Never eval, exec or compile.

grammar.py   the whitelists, caps and help text (data only)
check.py     text -> checked syntax tree, or an error with a caret (no torch)
variables.py --var NAME=CONSTRUCTOR -> checked literal specs (no torch)
evaluate.py  checked tree -> tensors: a meta-device dry run, then the real run
"""
