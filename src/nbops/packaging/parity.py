"""Numerical parity between a torch model and its ONNX export.

Both run on the example input, ``n_random`` random inputs of the same shape and dtype, the same
random inputs at a different batch size (proves the dynamic batch axis), and any eval inputs.
An output element passes when ``|onnx - torch| <= atol + rtol * |torch|`` (numpy's ``allclose``
rule). The defaults, ``atol = rtol = 1e-5``, suit fp32 exports: a faithful fp32 export differs
from torch by float rounding only, typically below 1e-6 for small MLPs and CNNs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbops.exceptions import ParityError, UsageError

from ._deps import require
from .inputs import as_tuple, eval_mode, flatten_outputs, random_like, to_feeds, validate
from .runtime import make_session

__all__ = ["DEFAULT_ATOL", "DEFAULT_RTOL", "OutputParity", "ParityReport", "check_parity"]

#: Default absolute tolerance for fp32 parity.
DEFAULT_ATOL = 1e-5
#: Default relative tolerance for fp32 parity.
DEFAULT_RTOL = 1e-5


@dataclass
class OutputParity:
    """Worst errors seen for one ONNX output over every case."""

    name: str
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    worst_case: str = ""
    passed: bool = True


@dataclass
class ParityReport:
    """Parity of one ONNX file against the torch model.

    ``max_rel_error`` is ``|onnx - torch| / |torch|`` over elements with ``|torch| > atol``
    (elements near zero are judged by ``atol`` alone).
    """

    onnx_path: Path
    atol: float
    rtol: float
    cases: list[str]
    batch_sizes: list[int]
    outputs: list[OutputParity] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    @property
    def max_abs_error(self) -> float:
        return max((o.max_abs_error for o in self.outputs), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((o.max_rel_error for o in self.outputs), default=0.0)

    def to_text(self) -> str:
        """A short human-readable report, one line per output."""
        head = (
            f"parity {'PASSED' if self.passed else 'FAILED'} for {self.onnx_path.name}: "
            f"{len(self.cases)} cases, batch sizes {self.batch_sizes}, "
            f"atol={self.atol:g} rtol={self.rtol:g}"
        )
        lines = [head] + [
            f"  {o.name}: max abs {o.max_abs_error:.3g}, max rel {o.max_rel_error:.3g}"
            f"{'' if o.passed else ' OVER TOLERANCE'} (worst: {o.worst_case})"
            for o in self.outputs
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            onnx_path=str(self.onnx_path),
            passed=self.passed,
            max_abs_error=self.max_abs_error,
            max_rel_error=self.max_rel_error,
        )
        return d


def compare(
    model: Any,
    session: Any,
    cases: list[tuple[str, tuple[Any, ...]]],
    *,
    atol: float,
    rtol: float,
    onnx_path: Path,
) -> ParityReport:
    """Run torch and the session on every case and collect the worst errors per output."""
    torch = require("torch", "parity check")
    np = require("numpy", "parity check")
    names_in = [i.name for i in session.get_inputs()]
    names_out = [o.name for o in session.get_outputs()]
    report = ParityReport(
        onnx_path=Path(onnx_path),
        atol=atol,
        rtol=rtol,
        cases=[label for label, _ in cases],
        batch_sizes=sorted({int(c[0].shape[0]) for _, c in cases if c[0].dim()}),
        outputs=[OutputParity(n) for n in names_out],
    )
    with eval_mode(model), torch.inference_mode():
        for label, case in cases:
            expected = [t.detach().cpu().numpy() for t in flatten_outputs(model(*case))]
            got = session.run(names_out, to_feeds(names_in, case))
            for out, ref, val in zip(report.outputs, expected, got, strict=True):
                if ref.shape != val.shape:
                    raise ParityError(
                        f"{report.onnx_path.name}: output {out.name} has shape {val.shape} in "
                        f"onnxruntime but {ref.shape} in torch on case '{label}'. The export is "
                        "wrong for this input; if the batch size differs from the example's, "
                        "export with dynamic_batch=True or check for hard-coded sizes."
                    )
                ref64, val64 = ref.astype(np.float64), val.astype(np.float64)
                diff = np.abs(val64 - ref64)
                mag = np.abs(ref64)
                abs_err = float(diff.max()) if diff.size else 0.0
                big = mag > atol
                rel_err = float((diff[big] / mag[big]).max()) if big.any() else 0.0
                ok = bool(np.all(diff <= atol + rtol * mag))
                if abs_err > out.max_abs_error or not out.worst_case:
                    out.worst_case = label
                out.max_abs_error = max(out.max_abs_error, abs_err)
                out.max_rel_error = max(out.max_rel_error, rel_err)
                out.passed = out.passed and ok
    return report


def build_cases(
    example: tuple[Any, ...], *, n_random: int, eval_inputs: Iterable[Any] | None, seed: int
) -> list[tuple[str, tuple[Any, ...]]]:
    """The example, random look-alikes, the look-alikes at another batch size, eval inputs."""
    torch = require("torch", "parity check")
    gen = torch.Generator().manual_seed(seed)
    cases = [("example", example)]
    cases += [(f"random[{i}]", random_like(example, generator=gen)) for i in range(n_random)]
    if example[0].dim():
        other = int(example[0].shape[0]) + 3
        cases += [
            (f"random batch={other}[{i}]", random_like(example, batch=other, generator=gen))
            for i in range(max(1, n_random // 4))
        ]
    for i, item in enumerate(eval_inputs or ()):
        case = as_tuple(item)
        cases.append((f"eval[{i}]", case))
        if case[0].dim() and case[0].shape[0] > 1:  # the same rows at another batch size
            half = int(case[0].shape[0]) // 2
            cases.append((f"eval[{i}][:{half}]", tuple(t[:half] for t in case)))
    return cases


def check_parity(
    model: Any,
    onnx_path: str | Path,
    example_input: Any,
    *,
    n_random: int = 8,
    eval_inputs: Iterable[Any] | None = None,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    seed: int = 0,
    raise_on_failure: bool = True,
    providers: list[str] | None = None,
) -> ParityReport:
    """Compare torch and onnxruntime outputs; raise ParityError when beyond tolerance.

    ``eval_inputs`` is an iterable of inputs (tensor or tuple of tensors); each also runs with
    half its rows, so a fixed batch size in the export shows up as an error.

    >>> import torch, tempfile
    >>> from nbops.packaging import export
    >>> mlp = torch.nn.Sequential(torch.nn.Linear(8, 4))
    >>> path = export(mlp, torch.randn(2, 8), path=tempfile.mkdtemp() + "/m.onnx").path
    >>> check_parity(mlp, path, torch.randn(2, 8)).passed
    True
    """
    if atol < 0 or rtol < 0:
        raise UsageError(f"atol and rtol must be >= 0 (got atol={atol}, rtol={rtol}).")
    example, _ = validate(model, example_input)
    session = make_session(onnx_path, providers=providers or ["CPUExecutionProvider"])
    cases = build_cases(example, n_random=n_random, eval_inputs=eval_inputs, seed=seed)
    report = compare(model, session, cases, atol=atol, rtol=rtol, onnx_path=Path(onnx_path))
    if raise_on_failure and not report.passed:
        raise ParityError(
            f"{report.to_text()}\nThe ONNX model does not reproduce the torch model. Look for "
            "data-dependent control flow or ops traced as constants (see the export warnings), "
            "or, for a reduced-precision model, pass a looser atol/rtol."
        )
    return report
