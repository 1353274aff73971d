"""The class report ``make grade`` writes next to grades.csv: what an instructor reads before the next lecture.

One self-contained HTML file: the score distribution per question (histograms, PNG inlined), the
most common check messages per question with how many students got each, and the students whose
notebooks did not run (not submitted, not gradable, or the runner itself failed), and the checks
that raised an error of their own (a bug in a hidden test first), with how many students met each.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TOP_MESSAGES = 5  # messages listed per question
MESSAGE_CHARS = 200  # a message is its first line, cut here


@dataclass
class StudentResult:
    """What the report needs of one student: per-question scores, failed checks' messages, notebooks graded."""

    student: str
    scores: dict[str, float]
    messages: dict[str, list[str]] = field(default_factory=dict)  # question -> one line per failed check
    graded_notebooks: set[str] = field(default_factory=set)
    summary: str = ""
    problem: str = ""  # the runner's own failure, if any
    check_errors: list[dict] = field(default_factory=list)  # the runner's extra_data.check_errors


def from_results(student: str, doc: dict, problem: str = "") -> StudentResult:
    """A :class:`StudentResult` from a results.json document."""
    scores: dict[str, float] = {}
    messages: dict[str, list[str]] = {}
    for test in doc.get("tests", []):
        name = str(test.get("name", ""))
        if ":" not in name:
            continue
        question = name.split(":", 1)[0]
        scores[question] = scores.get(question, 0.0) + float(test.get("score", 0))
        if float(test.get("score", 0)) < float(test.get("max_score", 0)):
            messages.setdefault(question, []).append(
                first_line(str(test.get("output", ""))) or name.split(":", 1)[1].strip()
            )
    extra = doc.get("extra_data")
    if not isinstance(extra, dict):
        extra = {}
    notebooks = set(extra.get("notebooks", {}))
    errors = [e for e in extra.get("check_errors", []) if isinstance(e, dict)]
    return StudentResult(student, scores, messages, notebooks, str(doc.get("output", "")), problem, errors)


def raised_checks(students: list[StudentResult]) -> list[tuple[str, str, bool, str, int]]:
    """(question, test, bug, error, students) for every check that raised; bugs in the tests first."""
    counts: Counter[tuple[str, str, bool, str]] = Counter()
    for s in students:
        counts.update(
            {
                (
                    str(e.get("question", "")),
                    str(e.get("test", "")),
                    bool(e.get("bug")),
                    str(e.get("error", ""))[:MESSAGE_CHARS],
                )
                for e in s.check_errors
            }
        )
    return [(*key, n) for key, n in sorted(counts.items(), key=lambda kv: (not kv[0][2], -kv[1], kv[0]))]


def first_line(text: str) -> str:
    """The first non-empty line of a check's output, cut to :data:`MESSAGE_CHARS`."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:MESSAGE_CHARS]
    return ""


def common_messages(students: list[StudentResult], question: str, top: int = TOP_MESSAGES) -> list[tuple[str, int]]:
    """The ``top`` commonest failed-check messages of ``question``, each counted once per student."""
    counts: Counter[str] = Counter()
    for s in students:
        counts.update(set(s.messages.get(question, [])))
    return counts.most_common(top)


def not_run(students: list[StudentResult], notebooks: list[str]) -> list[tuple[str, str]]:
    """(student, why) for every student with a notebook that was not graded or a runner failure."""
    rows = []
    for s in students:
        missing = [n for n in notebooks if n not in s.graded_notebooks]
        if s.problem:
            rows.append((s.student, s.problem))
        elif missing:
            rows.append(
                (s.student, f"not run: {', '.join(missing)}. {s.summary.splitlines()[0][:400] if s.summary else ''}")
            )
    return rows


def histograms(students: list[StudentResult], questions: list[str], maxima: dict[str, float]) -> str:
    """One small bar chart per question (students per score), as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, max(1, len(questions)))
    rows = (len(questions) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, question in zip(axes.flat, questions):
        counts = Counter(round(s.scores.get(question, 0.0), 2) for s in students)
        top = maxima.get(question, 0.0) or 1.0
        ax.bar(list(counts), list(counts.values()), width=top / 25, color="#4c72b0")
        ax.set_title(f"{question} (max {top:g})", fontsize=9)
        ax.set_xlim(-top / 20, top * 1.05)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(questions) :]:
        ax.axis("off")
    fig.supxlabel("score", fontsize=8)
    fig.supylabel("students", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def render(
    students: list[StudentResult],
    questions: list[str],
    maxima: dict[str, float],
    notebooks: list[str],
    title: str = "Class report",
) -> str:
    """The report as one HTML page."""
    esc = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{padding:.2em .6em;text-align:left;"
        "vertical-align:top}table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}</style></head><body>",
        f"<h1>{esc(title)}</h1><p>{len(students)} students, {len(questions)} questions.</p>",
    ]
    if students and questions:
        parts.append(
            f"<h2>Score distribution per question</h2><img alt='histograms of scores per question' "
            f"src='data:image/png;base64,{histograms(students, questions, maxima)}'>"
        )
    parts.append("<h2>Most common check messages</h2>")
    for question in questions:
        common = common_messages(students, question)
        mean = sum(s.scores.get(question, 0.0) for s in students) / max(1, len(students))
        parts.append(f"<h3>{esc(question)} — mean {mean:.2f} of {maxima.get(question, 0):g}</h3>")
        if not common:
            parts.append("<p>no failed checks</p>")
            continue
        parts.append(
            "<table><tr><th>students</th><th>message</th></tr>"
            + "".join(f"<tr><td>{n}</td><td>{esc(m)}</td></tr>" for m, n in common)
            + "</table>"
        )
    failed = not_run(students, notebooks)
    parts.append("<h2>Students whose notebooks did not run</h2>")
    parts.append(
        "<p>none</p>"
        if not failed
        else "<table><tr><th>student</th><th>why</th></tr>"
        + "".join(f"<tr><td>{esc(s)}</td><td>{esc(why)}</td></tr>" for s, why in failed)
        + "</table>"
    )
    raised = raised_checks(students)
    if raised:
        parts.append(
            "<h2>Checks that raised an error of their own</h2><p>A bug in a test costs students points: fix the test "
            "and regrade. Other errors may be a student's wrong type that the check could turn into a clearer message.</p>"
            "<table><tr><th>question</th><th>test</th><th>kind</th><th>error</th><th>students</th></tr>"
            + "".join(
                f"<tr><td>{esc(q)}</td><td>{esc(t)}</td><td>{'bug in the test' if bug else 'raised'}</td>"
                f"<td>{esc(e)}</td><td>{n}</td></tr>"
                for q, t, bug, e, n in raised
            )
            + "</table>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write(
    path: Path, students: list[StudentResult], questions: list[str], maxima: dict[str, float], notebooks: list[str]
) -> Path:
    """Write the report to ``path``; returns it."""
    path.write_text(render(students, questions, maxima, notebooks), encoding="utf-8")
    return path
