"""What `agrad expr` accepts: the whitelists, the caps, and the grammar as text.

Everything here is data; `check.py` enforces it on the parsed tree and
`evaluate.py` maps the names to torch. Nothing outside these tables can run.
"""

from __future__ import annotations

import textwrap

# Caps, all checked before anything is allocated.
MAX_TEXT = 500  # characters of one expression or one --var constructor
MAX_NODES = 200  # syntax-tree nodes of one expression
MAX_DEPTH = 32  # nesting depth of the syntax tree
MAX_LITERAL = 1_000_000  # largest |number| written in the input
MAX_NUMEL = 1_000_000  # elements of any tensor, variable or intermediate
MAX_DIMS = 64  # dimensions of any tensor: torch's own limit (a view may pass it; ops fail)
MAX_VARS = 16
MAX_INTERMEDIATES = 16  # named intermediates (h = ...) of one EXPR
MAX_ORDER = 4  # --order: derivatives of derivatives
MAX_HESSIAN_ELEMENTS = 64  # --hessian: the leaves' elements in all (a 64 x 64 matrix)

# Keyword arguments that take numbers, booleans or tuples of ints; never strings.
_DIM = frozenset({"dim", "keepdim"})

# Functions callable by name: name -> (where torch keeps it, allowed keywords).
FUNCTIONS: dict[str, tuple[str, frozenset[str]]] = {
    # elementwise maths
    **{
        name: ("torch", frozenset())
        for name in (
            "exp",
            "log",
            "log1p",
            "expm1",
            "sin",
            "cos",
            "tan",
            "tanh",
            "sigmoid",
            "relu",
            "abs",
            "sqrt",
            "rsqrt",
            "square",
            "neg",
            "reciprocal",
            "erf",
            "sign",
        )
    },
    "pow": ("torch", frozenset()),
    "clamp": ("torch", frozenset({"min", "max"})),
    "maximum": ("torch", frozenset()),
    "minimum": ("torch", frozenset()),
    # reductions
    "sum": ("torch", _DIM),
    "mean": ("torch", _DIM),
    "prod": ("torch", _DIM),
    "amax": ("torch", _DIM),
    "amin": ("torch", _DIM),
    "logsumexp": ("torch", _DIM),
    "norm": ("torch", _DIM | {"p"}),
    "std": ("torch", _DIM | {"correction"}),
    "var": ("torch", _DIM | {"correction"}),
    # linear algebra and shapes
    "matmul": ("torch", frozenset()),
    "mm": ("torch", frozenset()),
    "mv": ("torch", frozenset()),
    "dot": ("torch", frozenset()),
    "outer": ("torch", frozenset()),
    "t": ("torch", frozenset()),
    "transpose": ("torch", frozenset()),
    "reshape": ("torch", frozenset()),
    "flatten": ("torch", frozenset({"start_dim", "end_dim"})),
    "cat": ("torch", frozenset({"dim"})),
    "stack": ("torch", frozenset({"dim"})),
    # activations
    "softmax": ("F", frozenset({"dim"})),
    "log_softmax": ("F", frozenset({"dim"})),
    "softplus": ("F", frozenset({"beta", "threshold"})),
    "gelu": ("F", frozenset()),
    "silu": ("F", frozenset()),
    "elu": ("F", frozenset({"alpha"})),
    "leaky_relu": ("F", frozenset({"negative_slope"})),
    "hardtanh": ("F", frozenset({"min_val", "max_val"})),
    # losses (mean reduction, as torch defaults)
    "mse_loss": ("F", frozenset()),
    "l1_loss": ("F", frozenset()),
    "smooth_l1_loss": ("F", frozenset({"beta"})),
    "binary_cross_entropy": ("F", frozenset()),
    "binary_cross_entropy_with_logits": ("F", frozenset()),
    "cross_entropy": ("F", frozenset()),
    "nll_loss": ("F", frozenset()),
}

# torch.nn.functional.softmax without dim= warns on stderr; agrad asks for it instead
# (as a keyword or as the positional argument after the input).
REQUIRED_KEYWORDS = {"softmax": "dim", "log_softmax": "dim"}

# The positional parameters a call may fill, for the functions whose later positional
# parameters must not be reached: `inplace` (leaky_relu(x, 0.1, True) would modify x
# in place, past the ban on in-place methods) and the losses' deprecated flags.
POSITIONAL: dict[str, tuple[str, ...]] = {
    "softmax": ("input", "dim"),
    "log_softmax": ("input", "dim"),
    "softplus": ("input", "beta", "threshold"),
    "gelu": ("input",),
    "silu": ("input",),
    "elu": ("input", "alpha"),
    "leaky_relu": ("input", "negative_slope"),
    "hardtanh": ("input", "min_val", "max_val"),
    **{
        name: ("input", "target")
        for name in (
            "mse_loss",
            "l1_loss",
            "smooth_l1_loss",
            "binary_cross_entropy",
            "binary_cross_entropy_with_logits",
            "cross_entropy",
            "nll_loss",
        )
    },
}

# Names the report itself uses: `out = EXPR` and `torch.ones(...)` in "Run as", and
# out in the tensors, the graph and the views. A variable of that name would collide.
RESERVED_NAMES = ("out", "torch")

# Tensor methods: name -> allowed keywords. No in-place (trailing _) methods, nothing
# that leaves the tensor world (numpy, tolist, item, storage, to, cuda, hooks...).
METHODS: dict[str, frozenset[str]] = {
    **{
        name: frozenset()
        for name in (
            "exp",
            "log",
            "log1p",
            "sin",
            "cos",
            "tanh",
            "sigmoid",
            "relu",
            "abs",
            "sqrt",
            "square",
            "neg",
            "reciprocal",
            "t",
            "detach",
            "pow",
            "matmul",
            "mm",
            "mv",
            "dot",
            "reshape",
            "view",
            "transpose",
            "permute",
            "expand",
            "squeeze",
            "unsqueeze",
        )
    },
    "sum": _DIM,
    "mean": _DIM,
    "prod": _DIM,
    "amax": _DIM,
    "amin": _DIM,
    "logsumexp": _DIM,
    "norm": _DIM | {"p"},
    "std": _DIM | {"correction"},
    "var": _DIM | {"correction"},
    "clamp": frozenset({"min", "max"}),
    "flatten": frozenset({"start_dim", "end_dim"}),
    "softmax": frozenset({"dim"}),
    "log_softmax": frozenset({"dim"}),
}

# Constructors of --var values: name -> does it draw random numbers?
CONSTRUCTORS: dict[str, bool] = {
    "eye": False,
    "ones": False,
    "zeros": False,
    "randn": True,
    "rand": True,
    "arange": False,
    "linspace": False,
    "full": False,
    "tensor": False,
}


def _listing(names: list[str]) -> str:
    indent = " " * 15  # lines up under the first entry
    return textwrap.fill(
        ", ".join(names), width=88, initial_indent=indent, subsequent_indent=indent
    ).lstrip()


# Shown by `agrad expr --help`. Keep it in step with the tables above (a test does).
GRAMMAR = f"""
Grammar of EXPR (a Python-like expression, checked before anything runs):

  numbers      2, 0.5, 1e-3 (|n| <= {MAX_LITERAL:,}); True, False for keywords
  names        the variables declared with --var except {", ".join(RESERVED_NAMES)}, and
               the names earlier statements gave
  operators    + - * / ** @, unary -, parentheses
  calls        {_listing(sorted(FUNCTIONS))}
  methods      x.NAME(...), NAME one of:
               {_listing(sorted(METHODS))}
  keywords     only those each call accepts, e.g. dim=, keepdim=, min=, max=, p=;
               no inplace, positionally or by keyword
  indexing     x[0], x[-1], x[1:3], x[:, 0], x[::2] (integers and slices only)
  tuples       (2, 10) as arguments, e.g. x.reshape((2, 10))
  statements   NAME = EXPR, separated by ; or new lines, then the result (an EXPR,
               or out = EXPR), e.g. "h = x * x; out = h.sum()": each NAME is new,
               and shows in the tables and the graph (--retain-grad NAME keeps its .grad)
  (an EXPR that starts with - would read as an option: write "(-x)" or " -x")

--var NAME=CONSTRUCTOR, CONSTRUCTOR one of:
  {", ".join(CONSTRUCTORS)}
  e.g. eye(4,5) ones(5) zeros(3) randn(5,3) rand(2,2) arange(6) linspace(0,1,5)
  full((2,3), 0.5) tensor([[1,2],[3,4]]). Floating ones use --dtype and require grad
  (unless --no-grad NAME); integer ones (arange(6), tensor([1,2])) stay int64.

Not allowed: strings, other names or attributes, names starting or ending with _,
lambda, comprehensions, :=, *args/**kwargs, comparisons, in-place methods, methods
that leave torch (numpy, tolist, item, to, cuda...), non-ASCII characters; +=,
assigning to attributes or elements, a name twice, any other statement.
Caps: {MAX_TEXT} characters, {MAX_NODES} syntax nodes, depth {MAX_DEPTH},
{MAX_NUMEL:,} elements and {MAX_DIMS} dimensions per tensor (checked on the meta
device before allocating), {MAX_VARS} variables, {MAX_INTERMEDIATES} named intermediates.
"""
