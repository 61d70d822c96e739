"""CTCAE v5.0 catalogue: pure data loader and lookups (no Flask, no DB).

The data (ctcae_v5.json) carries the NCI's published CTCAE v5.0 texts; docs/ctcae.md says
which SOCs and terms it holds, where the texts were checked and how to add a term.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("ctcae_v5.json")

# The 27 MedDRA System Organ Class names as spelled in CTCAE v5.0.
SOC_NAMES = (
    "Blood and lymphatic system disorders",
    "Cardiac disorders",
    "Congenital, familial and genetic disorders",
    "Ear and labyrinth disorders",
    "Endocrine disorders",
    "Eye disorders",
    "Gastrointestinal disorders",
    "General disorders and administration site conditions",
    "Hepatobiliary disorders",
    "Immune system disorders",
    "Infections and infestations",
    "Injury, poisoning and procedural complications",
    "Investigations",
    "Metabolism and nutrition disorders",
    "Musculoskeletal and connective tissue disorders",
    "Neoplasms benign, malignant and unspecified (incl cysts and polyps)",
    "Nervous system disorders",
    "Pregnancy, puerperium and perinatal conditions",
    "Psychiatric disorders",
    "Renal and urinary disorders",
    "Reproductive system and breast disorders",
    "Respiratory, thoracic and mediastinal disorders",
    "Skin and subcutaneous tissue disorders",
    "Social circumstances",
    "Surgical and medical procedures",
    "Vascular disorders",
    "Product issues",
)

# CTCAE v5.0 general guideline for grades.
GENERAL_GRADE_MEANING = {
    1: "Mild; asymptomatic or mild symptoms; clinical or diagnostic observations only; intervention not indicated.",
    2: "Moderate; minimal, local or noninvasive intervention indicated; limiting age-appropriate instrumental ADL.",
    3: "Severe or medically significant but not immediately life-threatening; "
    "hospitalization or prolongation of hospitalization indicated; disabling; "
    "limiting self care ADL.",
    4: "Life-threatening consequences; urgent intervention indicated.",
    5: "Death related to AE.",
}


# CTCAE's catch-all terms ("<SOC> - Other, specify") have no published definition.
OTHER_SPECIFY_SUFFIX = " - Other, specify"


class CatalogueError(ValueError):
    """Raised when the catalogue data is malformed."""


@dataclass(frozen=True)
class Term:
    code: str
    term: str
    soc: str
    definition: str
    grades: dict[int, str] = field(default_factory=dict)
    navigational_note: str = ""

    @property
    def max_grade(self) -> int:
        """The highest grade the term defines (e.g. 3 for Nausea, 5 for Sepsis)."""
        return max(self.grades)


@dataclass(frozen=True)
class Catalogue:
    version: str
    terms: tuple[Term, ...]

    def __post_init__(self):
        object.__setattr__(self, "_by_code", {t.code: t for t in self.terms})

    def by_code(self, code) -> Term | None:
        return self._by_code.get(str(code).strip())

    def search(self, text: str, limit: int = 20, aliases: dict[str, str] | None = None) -> list[Term]:
        """Terms whose name (or alias, code -> other-language name) holds ``text``, then those whose definition does."""
        needle = (text or "").strip().casefold()
        if not needle:
            return []
        aliases = aliases or {}
        by_name = [t for t in self.terms if needle in t.term.casefold() or needle in aliases.get(t.code, "").casefold()]
        by_name.sort(key=lambda t: (not t.term.casefold().startswith(needle), t.term.casefold()))
        seen = {t.code for t in by_name}
        by_def = [t for t in self.terms if t.code not in seen and needle in t.definition.casefold()]
        by_def.sort(key=lambda t: t.term.casefold())
        return (by_name + by_def)[: max(0, limit)]

    def terms_by_soc(self) -> list[tuple[str, list[Term]]]:
        """(SOC, terms) pairs in SOC_NAMES order, terms alphabetical; SOCs without terms left out."""
        groups: dict[str, list[Term]] = {}
        for t in self.terms:
            groups.setdefault(t.soc, []).append(t)
        return [(soc, sorted(groups[soc], key=lambda t: t.term.casefold())) for soc in SOC_NAMES if soc in groups]

    def grade_problem(self, code, grade) -> str | None:
        term = self.by_code(code)
        if term is None:
            return "unknown_term"
        try:
            g = int(grade)
        except (TypeError, ValueError):
            return "grade_not_defined"
        if isinstance(grade, bool) or g not in term.grades:
            return "grade_not_defined"
        return None


def _fail(name, problem):
    raise CatalogueError(f"CTCAE term {name!r}: {problem}")


def _parse_term(raw) -> Term:
    if not isinstance(raw, dict):
        raise CatalogueError(f"CTCAE term entry is not an object: {raw!r}")
    name = raw.get("term")
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        _fail(name, "term name is empty or has surrounding spaces")
    code = raw.get("code")
    if not isinstance(code, str) or not (len(code) == 8 and code.isascii() and code.isdigit()):
        _fail(name, f"code {code!r} is not 8 digits (MedDRA LLT code)")
    soc = raw.get("soc")
    if soc not in SOC_NAMES:
        _fail(name, f"unknown SOC {soc!r}")
    definition = raw.get("definition")
    if not isinstance(definition, str):
        _fail(name, "definition is not text")
    if not definition.strip() and not name.endswith(OTHER_SPECIFY_SUFFIX):
        _fail(name, "definition is empty")
    note = raw.get("navigational_note", "")
    if not isinstance(note, str):
        _fail(name, "navigational_note is not text")
    raw_grades = raw.get("grades")
    if not isinstance(raw_grades, dict) or not raw_grades:
        _fail(name, "has no grades")
    grades: dict[int, str] = {}
    for key, text in raw_grades.items():
        try:
            g = int(key)
        except (TypeError, ValueError):
            _fail(name, f"grade key {key!r} is not a number")
        if str(g) != str(key).strip() or g not in range(1, 6):
            _fail(name, f"grade {key!r} is outside 1..5")
        if not isinstance(text, str) or not text.strip() or text.strip() == "-":
            _fail(name, f"grade {g} text is empty")
        grades[g] = text
    # Grades need not be contiguous (Sepsis has 3-5 only, many infections start at 2).
    if 5 in grades and grades[5] != "Death":
        _fail(name, f"grade 5 text is {grades[5]!r}, not 'Death'")
    return Term(
        code=code,
        term=name,
        soc=soc,
        definition=definition,
        grades=dict(sorted(grades.items())),
        navigational_note=note,
    )


def load(path=DEFAULT_PATH) -> Catalogue:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or not isinstance(data.get("terms"), list):
        raise CatalogueError("CTCAE catalogue must be an object with a 'terms' list")
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise CatalogueError("CTCAE catalogue has no 'version'")
    terms: list[Term] = []
    codes: dict[str, str] = {}
    names: set[str] = set()
    for raw in data["terms"]:
        term = _parse_term(raw)
        if term.code in codes:
            _fail(term.term, f"duplicate code {term.code} (also used by {codes[term.code]!r})")
        if term.term.casefold() in names:
            _fail(term.term, "duplicate term name")
        codes[term.code] = term.term
        names.add(term.term.casefold())
        terms.append(term)
    return Catalogue(version=version, terms=tuple(terms))


@functools.lru_cache(maxsize=1)
def default() -> Catalogue:
    """The packaged CTCAE v5.0 catalogue, loaded once per process (called per request)."""
    return load(DEFAULT_PATH)
