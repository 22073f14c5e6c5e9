"""`agrad inspect`'s scenario: the user's own Python code builds the tensors.

This is the one place where agrad runs code it did not write, the way pytest runs
test files: TARGET names a file or module, which is imported, and a callable in
it, which is called with the --arg values as keyword arguments. Nothing the user
typed on the command line is evaluated; only their file is run.

Failures are told apart the way the user needs them: a TARGET that does not lead
to a callable, or a callable that returns the wrong thing, is a usage error (exit
2); an exception raised by the user's code is a runtime error (exit 1) that names
its type, message and the user's own file:line, never agrad's internals.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
import sysconfig
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType, ModuleType, TracebackType
from typing import Any

import torch

from autograd_cli.errors import AgradError, RuntimeProblem, UsageProblem
from autograd_cli.i18n import N_, _
from autograd_cli.render.labels import printable
from autograd_cli.targets import TARGET_FORMS, TargetSpec

RETURN_FORMS = N_(
    "a scalar loss tensor, or a tuple (model, inputs, loss_fn) or "
    "(model, inputs, targets, loss_fn) with model a torch.nn.Module"
)


class UserCodeFailed(RuntimeProblem):
    """An exception raised inside the user's code (exit 1)."""


@dataclass
class UserRun:
    """One call of the user's callable, carried through to a scalar loss."""

    loss: torch.Tensor
    form: str  # "model" or "loss"
    named: dict[str, torch.Tensor]  # parameters (or leaves) by name, in a stable order
    model: str | None  # class name of the model, in the "model" form
    loss_fn: str | None
    # The "model" form only, for agrad inspect --steps: the forward pass again (not
    # guarded: the caller guards each training step once), and the optimizer NAME
    # returned as a fifth element, if any.
    forward: Callable[[], torch.Tensor] | None = None
    optimizer: Any = None


@dataclass(frozen=True)
class UserCallable:
    function: Callable[..., Any]
    target: TargetSpec
    file: Path | None  # the file TARGET resolved to, for locating errors

    def run(self, arguments: dict[str, Any], seed: int) -> UserRun:
        """Seeds torch, calls NAME(**arguments), and computes the loss it leads to."""
        torch.manual_seed(seed)
        with self.guard():
            result, frame_locals = _call_keeping_locals(self.function, arguments)
        if isinstance(result, tuple) and len(result) in (3, 4, 5):
            return self._model_run(result)
        if isinstance(result, torch.Tensor):
            what = _("the loss {name}() returned").format(name=self.target.name)
            loss = _checked_loss(self.target, result, what)
            named = _names_for(self.function, frame_locals)
            return UserRun(loss, "loss", named, model=None, loss_fn=None)
        raise UsageProblem(
            _("{target} returned {kind}; it must return {forms}").format(
                target=self.target.text, kind=kind_of(result), forms=_(RETURN_FORMS)
            )
        )

    def guard(self, stage: str | None = None) -> contextlib.AbstractContextManager[None]:
        """Around anything that runs the user's code (forward, and their backward);
        `stage` says what agrad was doing, for errors raised inside torch itself."""
        return _user_code(self.target, self.file, stage=stage)

    def _model_run(self, result: tuple[Any, ...]) -> UserRun:
        target = self.target
        optimizer = None
        if len(result) == 3:
            model, inputs, loss_fn = result
            targets: tuple[Any, ...] = ()
        elif len(result) == 4:
            model, inputs, target_values, loss_fn = result
            targets = (target_values,)
        else:
            model, inputs, target_values, loss_fn, optimizer = result
            targets = (target_values,)
        shape = "(model, inputs, targets, loss_fn)" if targets else "(model, inputs, loss_fn)"
        if optimizer is not None:
            shape = "(model, inputs, targets, loss_fn, optimizer)"
            if not isinstance(optimizer, torch.optim.Optimizer):
                raise UsageProblem(
                    _(
                        "{target} returned {shape} with optimizer {kind}; it must be a "
                        "torch.optim.Optimizer"
                    ).format(target=target.text, shape=shape, kind=kind_of(optimizer))
                )
        if not isinstance(model, torch.nn.Module):
            raise UsageProblem(
                _(
                    "{target} returned {shape} with model {kind}; it must be a torch.nn.Module"
                ).format(target=target.text, shape=shape, kind=kind_of(model))
            )
        if not callable(loss_fn):
            raise UsageProblem(
                _("{target} returned {shape} with loss_fn {kind}; it must be callable").format(
                    target=target.text, shape=shape, kind=kind_of(loss_fn)
                )
            )
        for parameter in model.parameters():
            parameter.grad = None  # this backward() alone, not what the user's code left

        def output_of() -> Any:
            if isinstance(inputs, dict):
                return model(**inputs)
            if isinstance(inputs, tuple | list):
                return model(*inputs)
            return model(inputs)

        what = _("loss_fn's result")  # once: forward() runs at every training step

        def forward() -> torch.Tensor:
            return _checked_loss(target, loss_fn(output_of(), *targets), what)

        with self.guard("model(inputs)"):
            output = output_of()
        with self.guard("loss_fn(output, targets)" if targets else "loss_fn(output)"):
            loss = loss_fn(output, *targets)
        loss = _checked_loss(target, loss, what)
        return UserRun(
            loss,
            "model",
            {printable(name): p for name, p in model.named_parameters()},
            model=printable(type(model).__name__),
            loss_fn=_callable_name(loss_fn),
            forward=forward,
            optimizer=optimizer,
        )


def load_callable(
    target: TargetSpec,
    arguments: dict[str, Any],
    seed: int,
    forms: str = RETURN_FORMS,
    partial: bool = False,
) -> UserCallable:
    """Imports TARGET's file or module and finds its callable; checks the --arg names
    (with `partial`, as some of its keywords: its positional arguments come later).
    `forms` says what NAME must be or return, in errors (untranslated: N_).

    Seeded first: a model built when the file is run starts the same every time."""
    torch.manual_seed(seed)
    if target.path is not None:
        module, file = _import_file(target), target.path.resolve()
    else:
        module = _import_module(target)
        file = Path(module.__file__).resolve() if getattr(module, "__file__", None) else None
    where = shown_path(file) if file else target.module
    if not hasattr(module, target.name):
        # Its own callables, not what it imported (torch, nn, OrderedDict...).
        public = sorted(
            n
            for n, v in vars(module).items()
            if callable(v)
            and not n.startswith("_")
            and getattr(v, "__module__", None) == module.__name__
        )
        raise UsageProblem(
            _("{where} has no {name!r}; its callables: {callables}").format(
                where=where, name=target.name, callables=", ".join(public) or _("none")
            )
        )
    function = getattr(module, target.name)
    if not callable(function):
        raise UsageProblem(
            _("{target}: {name} is {kind}, not a callable; it must return {forms}").format(
                target=target.text, name=target.name, kind=kind_of(function), forms=_(forms)
            )
        )
    _check_arguments(target, function, arguments, partial)
    return UserCallable(function, target, file)


def _import_file(target: TargetSpec) -> ModuleType:
    path = target.path
    assert path is not None
    if not path.exists():
        raise UsageProblem(
            _("{path}: no such file; TARGET is {forms}").format(path=path, forms=_(TARGET_FORMS))
        )
    if not path.is_file():
        raise UsageProblem(
            _("{path}: not a file; TARGET is {forms}").format(path=path, forms=_(TARGET_FORMS))
        )
    # Like pytest's rootdir-less import: the file's directory comes first on
    # sys.path, so it can import its neighbours.
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = f"agrad_user_{path.stem}" if path.stem.isidentifier() else "agrad_user_module"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageProblem(_("{path}: Python cannot load it as a module").format(path=path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look themselves up here
    try:
        with _user_code(target, path.resolve()):
            spec.loader.exec_module(module)
    except SyntaxError as e:
        raise _syntax_problem(e) from None
    return module


def _import_module(target: TargetSpec) -> ModuleType:
    assert target.module is not None
    # As `python -m`: the current directory is importable.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        with _user_code(target, None, missing_module=target.module):
            return importlib.import_module(target.module)
    except SyntaxError as e:
        raise _syntax_problem(e) from None


def _syntax_problem(e: SyntaxError) -> UsageProblem:
    where = f"{shown_path(Path(e.filename))}:{e.lineno}" if e.filename else _("your code")
    return UsageProblem(
        _("{where}: SyntaxError: {reason}; agrad cannot import it").format(
            where=where, reason=e.msg
        )
    )


def _check_arguments(
    target: TargetSpec, function: Callable[..., Any], arguments: dict, partial: bool = False
) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return
    takes = ", ".join(signature.parameters) or _("no arguments")
    try:
        (signature.bind_partial if partial else signature.bind)(**arguments)
    except TypeError as e:
        raise UsageProblem(
            _(
                "{target}: --arg does not fit {name}{signature} ({reason}); it takes: {takes}"
            ).format(
                target=target.text, name=target.name, signature=signature, reason=e, takes=takes
            )
        ) from None


def _call_keeping_locals(
    function: Callable[..., Any], arguments: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """Calls `function` and keeps its local variables as they were when it returned.

    They name the tensors of a bare loss: `weight` beats `leaf 0`. A profile hook
    sees the return of that one frame; it is removed as soon as the call ends.
    """
    code: CodeType | None = getattr(function, "__code__", None)
    seen: dict[str, Any] = {}
    previous = sys.getprofile()

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event == "return" and frame.f_code is code and not seen:
            seen.update(frame.f_locals)

    if code is not None:
        sys.setprofile(hook)
    try:
        return function(**arguments), seen
    finally:
        if code is not None:
            sys.setprofile(previous)


def _checked_loss(target: TargetSpec, loss: Any, what: str) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor):
        raise UsageProblem(
            _("{target}: {what} is {kind}, not a tensor").format(
                target=target.text, what=what, kind=kind_of(loss)
            )
        )
    if loss.is_complex():
        raise UsageProblem(
            _(
                "{target}: {what} is complex ({dtype}); backward() needs a real loss: "
                "reduce it to a real scalar, e.g. with .abs().sum()"
            ).format(target=target.text, what=what, dtype=str(loss.dtype).removeprefix("torch."))
        )
    if loss.numel() != 1:
        raise UsageProblem(
            _(
                "{target}: {what} has shape {shape}; the loss must be a scalar (reduce it, "
                "e.g. with .mean())"
            ).format(target=target.text, what=what, shape=tuple(loss.shape))
        )
    if not loss.requires_grad:
        raise UsageProblem(
            _(
                "{target}: {what} does not require grad, so there is no backward pass: no "
                "tensor that requires grad reaches it (computed under torch.no_grad()?)"
            ).format(target=target.text, what=what)
        )
    return loss


def _names_for(function: Callable[..., Any], frame_locals: dict[str, Any]) -> dict[str, Any]:
    """Tensors a bare loss may depend on, named as the user's code names them: the
    callable's locals, then the module-level names its code uses."""
    scope = dict(frame_locals)
    code = getattr(function, "__code__", None)
    module_globals = getattr(function, "__globals__", {})
    if code is not None:
        for name in code.co_names:
            if name in module_globals and name not in scope:
                scope[name] = module_globals[name]
    named: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, value in scope.items():
        if isinstance(value, torch.nn.Module):
            pairs = [(f"{name}.{p}", t) for p, t in value.named_parameters()]
        elif isinstance(value, torch.Tensor) and value.is_leaf and value.requires_grad:
            pairs = [(name, value)]
        else:
            continue
        for full_name, tensor in pairs:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                named[printable(full_name)] = tensor
    return named


def _callable_name(function: Any) -> str:
    name = getattr(function, "__name__", None)
    return printable(name if isinstance(name, str) else type(function).__name__)


def kind_of(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return _("a tensor of shape {shape}").format(shape=tuple(value.shape))
    if isinstance(value, tuple):
        return _("a tuple of {count}").format(count=len(value))
    name = printable(type(value).__name__)
    article = _("an {type}") if name[:1].lower() in "aeiou" else _("a {type}")
    return article.format(type=name)


# Where an exception happened --------------------------------------------------

_LIBRARY_DIRS = tuple(
    os.path.realpath(p)
    for p in {
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),  # agrad itself
        os.path.dirname(torch.__file__),
        *(sysconfig.get_paths().get(k, "") for k in ("stdlib", "platstdlib", "purelib")),
        sysconfig.get_paths().get("platlib", ""),
    }
    if p
)


def is_user_file(filename: str, own_file: Path | None) -> bool:
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return False
    real = os.path.realpath(filename)
    if own_file is not None and real == str(own_file):
        return True
    return not any(real == d or real.startswith(d + os.sep) for d in _LIBRARY_DIRS)


def user_frame(tb: TracebackType | None, own_file: Path | None) -> traceback.FrameSummary | None:
    """The innermost frame of the user's own code in a traceback."""
    frames = [f for f in traceback.extract_tb(tb) if is_user_file(f.filename, own_file)]
    return frames[-1] if frames else None


def shown_path(path: Path) -> str:
    """Relative to the current directory when it is below it, as the user typed it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def where_text(filename: str, line: int | None, function: str | None) -> str:
    at = f"{shown_path(Path(filename))}:{line}"
    if function and function != "<module>":
        return _("{at}, in {function}").format(at=at, function=function)
    return at


@contextlib.contextmanager
def _user_code(
    target: TargetSpec,
    own_file: Path | None,
    missing_module: str | None = None,
    stage: str | None = None,
) -> Iterator[None]:
    """Runs the user's code: print() goes to stderr (stdout is agrad's, and may be
    JSON), and any exception becomes one message that points into the user's code."""
    try:
        with _stdout_to_stderr():
            yield
    except (AgradError, SyntaxError, KeyboardInterrupt):
        raise
    except ModuleNotFoundError as e:
        if missing_module is not None and e.name and missing_module.startswith(e.name):
            raise UsageProblem(
                _(
                    "no module named {name!r} (looked in the current directory and the "
                    "installed packages); TARGET is {forms}"
                ).format(name=e.name, forms=_(TARGET_FORMS))
            ) from None
        raise _user_failure(e, target, own_file, stage) from None
    except BaseException as e:  # SystemExit too: the user's code must not end agrad
        raise _user_failure(e, target, own_file, stage) from None


_redirected: list[int] = []  # the saved stdout descriptor while the user's code runs


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """sys.stdout and file descriptor 1 itself lead to stderr inside: print(), but also
    os.write(1, ...), a C library's printf and the user's threads, would otherwise land
    in agrad's stdout (inside `inspect --json`'s document). Re-entrant: only the
    outermost level moves descriptor 1, and puts it back."""
    if _redirected:
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # closed, or detached by a test runner
            stream.flush()
    saved = -1
    if _is_open(1):  # closed: nothing to protect (and dup() would hand out 1 itself)
        # stderr closed: the user's output goes nowhere rather than into ours.
        target = os.dup(2) if _is_open(2) else os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(1)
        os.dup2(target, 1)
        os.close(target)
    _redirected.append(saved)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _redirected.pop()
        if saved >= 0:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _is_open(descriptor: int) -> bool:
    try:
        os.fstat(descriptor)
    except OSError:
        return False
    return True


def _user_failure(
    e: BaseException, target: TargetSpec, own_file: Path | None, stage: str | None
) -> UserCodeFailed:
    frame = user_frame(e.__traceback__, own_file)
    message = printable(str(e).strip().splitlines()[0]) if str(e).strip() else _("(no message)")
    if frame is not None:
        where = " " + _("at {where}").format(
            where=where_text(frame.filename, frame.lineno, frame.name)
        )
    elif stage:  # raised inside torch, e.g. nn.Linear given the wrong shape
        where = " " + _("in {stage}, which agrad called with what NAME returned").format(
            stage=stage
        )
    else:
        where = ""
    return UserCodeFailed(
        _("{target} raised {kind}: {message}").format(
            target=target.text, kind=printable(type(e).__name__), message=message
        )
        + where
    )
