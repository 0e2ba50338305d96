"""Run the `batman` CLI with the test evaluator kind `flaky` registered (for subprocess tests)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from batman_opt.evaluators import EVALUATORS, EvaluatorKind  # noqa: E402

EVALUATORS["flaky"] = EvaluatorKind(
    "flaky", "flaky_evaluator:FlakyEvaluator", "test evaluator with failure injection"
)

from batman_opt.cli import main  # noqa: E402

main()
