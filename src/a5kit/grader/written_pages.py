"""One HTML page per written question for the graders: ``grades/written/<question>.html`` and ``index.html``.

Each page starts with the question's text, points, rubric and key (from ``solutions/``), then shows
every student's answer (Markdown rendered by :mod:`.safe_markdown`: nothing a student writes can run
or load anything) and the figures the question's code cells produced in the submitted notebook
(:mod:`.written` says which cells). Blank answers and nbgrader's untouched stub are listed as
"no answer". With a pseudonym key the students are shown as stable pseudonyms, in pseudonym order.
The pages read the submitted notebooks as JSON only; nothing is executed.
"""

from __future__ import annotations

import html
import json
import tempfile
from pathlib import Path

from a5kit.grader import intake, safe_markdown
from a5kit.grader.written import Answer, Question, answer_in, pseudonym

STATUS_WORDS = {
    "empty": "no answer (blank or the unchanged stub)",
    "no notebook": "notebook not submitted",
    "no answer cell": "no answer cell in the notebook",
    "unreadable notebook": "notebook could not be read",
}
STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
    ".box{border:1px solid #ccc;padding:.3em 1em;margin:.6em 0}.key{background:#f3f8f3}.rubric{background:#f8f6ee}"
    ".answer{background:#fff}.missing{color:#a33}.url,.blocked{color:#666;font-size:.9em}"
    "figure{margin:.5em 0}figure img{max-width:100%}figcaption{font-size:.8em;color:#555}"
    "table{border-collapse:collapse}td,th{padding:.2em .6em;border:1px solid #ddd;text-align:left}"
)


def notebooks_of(submission: Path, stems: list[str]) -> dict[str, tuple[dict | None, str]]:
    """Each expected notebook of ``submission`` as a JSON dict, or (None, why not) (intake's rules: renames, zips)."""
    found: dict[str, tuple[dict | None, str]] = {}
    with tempfile.TemporaryDirectory(prefix="a5kit-written-") as work:
        chosen = intake.collect(submission, Path(work), stems)
        for stem in stems:
            path = chosen.notebooks.get(stem)
            if path is None:
                found[stem] = (None, "")
                continue
            problem = intake.check_notebook(path)
            found[stem] = (None, problem) if problem else (json.loads(path.read_text(encoding="utf-8")), "")
    return found


def page(title: str, body: list[str]) -> str:
    """A self-contained page that allows no script and no outside load (:data:`safe_markdown.CSP`)."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{safe_markdown.CSP}\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def header(q: Question) -> list[str]:
    """The top of a question's page: text, points, rubric and key (the instructor's own Markdown)."""
    rubric = (
        safe_markdown.render(q.rubric)
        if q.rubric
        else "<p>This question's key has no separate rubric: <strong>the rubric is the key</strong> below.</p>"
    )
    return [
        f"<p><a href='index.html'>all written questions</a></p><h1>{html.escape(q.id)} — {q.points:g} points</h1>",
        f"<p>Notebook <code>{html.escape(q.notebook)}.ipynb</code>.</p>",
        f"<h2>Question</h2><div class='box question'>{safe_markdown.render(q.text)}</div>",
        f"<h2>Rubric</h2><div class='box rubric'>{rubric}</div>",
        f"<h2>Key</h2><details open><summary>model answer</summary><div class='box key'>{safe_markdown.render(q.key)}</div></details>",
    ]


def student_block(label: str, answer: Answer) -> str:
    """One student's answer and figures."""
    head = f"<h3 id='{html.escape(label, quote=True)}'>{html.escape(label)}</h3>"
    if answer.status != "answered":
        detail = f": {html.escape(answer.detail)}" if answer.detail else ""
        body = f"<p class='missing'><strong>{STATUS_WORDS.get(answer.status, answer.status)}</strong>{detail}</p>"
    else:
        body = f"<div class='box answer'>{safe_markdown.render(answer.text, answer.attachments)}</div>"
    if answer.figures:
        body += "".join(
            f"<figure><img alt='figure from {html.escape(f.cell, quote=True)}' src='{f.uri}'>"
            f"<figcaption>output of {html.escape(f.cell)}</figcaption></figure>"
            for f in answer.figures
        )
    elif answer.status in ("answered", "empty"):
        body += "<p class='url'>(no figure in this question's code cells: not run, or nothing plotted)</p>"
    return f"<section class='student'>{head}{body}</section>"


def write_pages(submissions: list[Path], questions: list[Question], out: Path, key: bytes | None = None) -> Path:
    """Write ``out/<question>.html`` for every question and ``out/index.html``; returns the index."""
    out.mkdir(parents=True, exist_ok=True)
    stems = sorted({q.notebook for q in questions})
    labels = {sub: pseudonym(sub.name, key) if key else sub.name for sub in submissions}
    ordered = sorted(submissions, key=lambda s: labels[s])
    notebooks = {sub: notebooks_of(sub, stems) for sub in ordered}
    counts = {}
    for q in questions:
        answers = [
            (labels[sub], answer_in(notebooks[sub][q.notebook][0], q.id, notebooks[sub][q.notebook][1]))
            for sub in ordered
        ]
        counts[q.id] = sum(a.status == "answered" for _, a in answers)
        blocks = [student_block(label, a) for label, a in answers]
        (out / f"{q.id}.html").write_text(
            page(f"{q.id}: written answers", [*header(q), f"<h2>Answers ({len(answers)} students)</h2>", *blocks]),
            encoding="utf-8",
        )
    rows = "".join(
        f"<tr><td><a href='{html.escape(q.id)}.html'>{html.escape(q.id)}</a></td><td>{html.escape(q.notebook)}</td>"
        f"<td>{q.points:g}</td><td>{counts[q.id]} of {len(ordered)}</td></tr>"
        for q in questions
    )
    names = "pseudonyms (stable under the key in blind.key)" if key else "submission folder names"
    index = out / "index.html"
    index.write_text(
        page(
            "Written questions",
            [
                f"<h1>Written questions</h1><p>{len(questions)} questions, {sum(q.points for q in questions):g} points; "
                f"{len(ordered)} students, shown by {names}. Scores go into written.csv next to grades.csv.</p>",
                f"<table><tr><th>question</th><th>notebook</th><th>points</th><th>answered</th></tr>{rows}</table>",
            ],
        ),
        encoding="utf-8",
    )
    return index
