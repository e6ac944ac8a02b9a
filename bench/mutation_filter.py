"""cosmic-ray filter: skip mutants inside type annotations, which are equivalent by construction.

Under ``from __future__ import annotations`` (every labnode module has it) annotations are kept
as strings and never evaluated, so ``Point | None`` -> ``Point - None`` changes nothing that runs.
cosmic-ray does not know that, and such mutants are a fifth of some modules' total.

Usage: python3 bench/mutation_filter.py SESSION.sqlite [--sample N]
(bench/mutation.sh runs it after init). ``--sample N`` also skips all but N mutants drawn at
random (seeded, so a rerun draws the same ones): an estimate for a module whose full run does
not fit the time at hand, reported as a sample.
"""

from __future__ import annotations

import ast
import random
import sys
from functools import cache
from pathlib import Path

from cosmic_ray.tools.filters.filter_app import FilterApp
from cosmic_ray.work_item import WorkerOutcome, WorkResult

Span = tuple[tuple[int, int], tuple[int, int]]


@cache
def annotation_spans(path: Path) -> tuple[Span, ...]:
    """(start, end) (line, column) of every annotation in ``path``; none without the import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lazy = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )
    if not lazy:
        return ()
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            found.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
    return tuple(
        ((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0)) for a in found
    )


def in_annotation(path: Path, start: tuple[int, int], end: tuple[int, int]) -> bool:
    """True when the mutated span lies wholly inside one annotation of ``path``."""
    return any(a <= tuple(start) and tuple(end) <= b for a, b in annotation_spans(path))


class AnnotationFilter(FilterApp):
    """Mark every mutant inside a type annotation as SKIPPED."""

    def description(self) -> str:
        return __doc__ or ""

    def add_args(self, parser) -> None:
        parser.add_argument("--sample", type=int, default=0, help="run only N random mutants")

    def filter(self, work_db, args) -> None:
        skipped = WorkResult(
            output="in a type annotation: never evaluated",
            test_outcome=None,
            diff=None,
            worker_outcome=WorkerOutcome.SKIPPED,
        )
        kept = []
        for item in work_db.work_items:
            if all(
                in_annotation(Path(m.module_path), m.start_pos, m.end_pos) for m in item.mutations
            ):
                work_db.set_result(item.job_id, skipped)
            else:
                where = [(m.start_pos, m.operator_name, m.occurrence) for m in item.mutations]
                kept.append((where, item.job_id))
        if args.sample and args.sample < len(kept):
            kept.sort()
            drawn = random.Random(args.sample).sample(range(len(kept)), args.sample)
            chosen = {kept[i][1] for i in drawn}
            outside = WorkResult(
                output="not in the sample",
                test_outcome=None,
                diff=None,
                worker_outcome=WorkerOutcome.NO_TEST,
            )
            for _, job_id in kept:
                if job_id not in chosen:
                    work_db.set_result(job_id, outside)


if __name__ == "__main__":
    sys.exit(AnnotationFilter().main())
