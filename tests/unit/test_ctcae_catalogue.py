"""The CTCAE v5.0 catalogue: data integrity, published texts, lookups and the loader's refusals."""

import json

import pytest

from lims.ctcae.catalogue import (
    GENERAL_GRADE_MEANING,
    SOC_NAMES,
    CatalogueError,
    default,
    load,
)

GI = "Gastrointestinal disorders"
GEN = "General disorders and administration site conditions"
INF = "Infections and infestations"
INV = "Investigations"
MET = "Metabolism and nutrition disorders"
RESP = "Respiratory, thoracic and mediastinal disorders"
SKIN = "Skin and subcutaneous tissue disorders"
NERV = "Nervous system disorders"
ENDO = "Endocrine disorders"
HEP = "Hepatobiliary disorders"

# The whole GI SOC of CTCAE v5.0, counted in two independent conversions of the NCI spreadsheet.
GI_COUNT = 122

GI_TERMS = {
    "Abdominal distension",
    "Abdominal pain",
    "Anal pain",
    "Ascites",
    "Bloating",
    "Colitis",
    "Constipation",
    "Diarrhea",
    "Dry mouth",
    "Dyspepsia",
    "Dysphagia",
    "Enterocolitis",
    "Esophagitis",
    "Flatulence",
    "Gastritis",
    "Gastrointestinal pain",
    "Mucositis oral",
    "Nausea",
    "Obstruction gastric",
    "Oral pain",
    "Proctitis",
    "Small intestinal obstruction",
    "Vomiting",
    "Typhlitis",
    "Ileus",
    "Lower gastrointestinal hemorrhage",
    "Colonic perforation",
    "Gastrointestinal disorders - Other, specify",
}

# Terms an FMT + PD-1 (toripalimab) study meets, by SOC.
STUDY_TERMS = {
    GEN: {"Fever", "Fatigue", "Chills", "Malaise", "Flu like symptoms"},
    INF: {
        "Sepsis",
        "Enterocolitis infectious",
        "Lung infection",
        "Upper respiratory infection",
        "Urinary tract infection",
        "Bacteremia",
    },
    GI: {"Colitis", "Diarrhea", "Nausea", "Vomiting", "Abdominal pain"},
    RESP: {"Pneumonitis", "Dyspnea", "Cough"},
    INV: {
        "Alanine aminotransferase increased",
        "Aspartate aminotransferase increased",
        "Blood bilirubin increased",
        "Alkaline phosphatase increased",
        "Neutrophil count decreased",
        "Platelet count decreased",
        "Lymphocyte count decreased",
        "White blood cell decreased",
        "Creatinine increased",
    },
    MET: {"Anorexia", "Dehydration", "Hypokalemia", "Hyponatremia", "Hyperglycemia"},
    SKIN: {"Rash maculo-papular", "Pruritus"},
    NERV: {"Headache", "Dizziness", "Peripheral sensory neuropathy"},
    ENDO: {"Hypothyroidism", "Hyperthyroidism", "Adrenal insufficiency"},
    HEP: {"Hepatic failure"},
}


@pytest.fixture(scope="module")
def cat():
    return load()


def _by_name(cat):
    return {t.term: t for t in cat.terms}


def test_loads(cat):
    assert cat.version == "5.0"
    assert len(cat.terms) >= 250


def test_default_is_cached_and_same_data(cat):
    assert default() is default()
    assert [t.code for t in default().terms] == [t.code for t in cat.terms]


def test_unique_codes_and_names(cat):
    codes = [t.code for t in cat.terms]
    names = [t.term.casefold() for t in cat.terms]
    assert len(codes) == len(set(codes))
    assert len(names) == len(set(names))


def test_codes_are_8_digit_meddra_llt_codes(cat):
    for t in cat.terms:
        assert len(t.code) == 8 and t.code.isdigit() and t.code.startswith("10"), t.term


def test_grades_nonempty_within_1_to_5_and_death(cat):
    for t in cat.terms:
        assert t.grades, t.term
        assert set(t.grades) <= {1, 2, 3, 4, 5}, t.term
        assert all(txt.strip() and txt.strip() != "-" for txt in t.grades.values()), t.term
        assert list(t.grades) == sorted(t.grades), t.term
        if 5 in t.grades:
            assert t.grades[5] == "Death", t.term
        assert t.max_grade == max(t.grades)


def test_texts_are_ascii_and_trimmed(cat):
    # The spreadsheet writes >= and <= in ASCII; the catalogue keeps its texts as they are.
    for t in cat.terms:
        for txt in (t.term, t.definition, t.navigational_note, *t.grades.values()):
            assert txt.isascii(), t.term
            assert txt == txt.strip(), t.term


def test_definitions(cat):
    for t in cat.terms:
        if t.term.endswith(" - Other, specify"):
            assert t.definition == "", t.term  # CTCAE publishes none for the catch-all terms
        else:
            assert t.definition.strip(), t.term


def test_socs_known(cat):
    assert len(SOC_NAMES) == 27 and len(set(SOC_NAMES)) == 27
    for t in cat.terms:
        assert t.soc in SOC_NAMES, t.term


def test_full_gi_soc(cat):
    gi = [t for t in cat.terms if t.soc == GI]
    assert len(gi) == GI_COUNT
    by_name = _by_name(cat)
    for name in GI_TERMS:
        assert name in by_name, name
        assert by_name[name].soc == GI, name


def test_study_terms_present_in_their_socs(cat):
    by_name = _by_name(cat)
    for soc, names in STUDY_TERMS.items():
        for name in names:
            assert name in by_name, name
            assert by_name[name].soc == soc, name


def test_every_included_soc_has_its_other_specify_term(cat):
    socs = {t.soc for t in cat.terms}
    names = {t.term for t in cat.terms}
    for soc in socs - {
        "Immune system disorders",
        "Injury, poisoning and procedural complications",
        "Musculoskeletal and connective tissue disorders",
    }:
        assert f"{soc} - Other, specify" in names, soc


def test_fever_exact(cat):
    t = cat.by_code("10016558")
    assert t.term == "Fever"
    assert t.soc == GEN
    assert t.definition == (
        "A disorder characterized by elevation of the body's temperature above the upper limit of normal."
    )
    assert t.grades == {
        1: "38.0 - 39.0 degrees C (100.4 - 102.2 degrees F)",
        2: ">39.0 - 40.0 degrees C (102.3 - 104.0 degrees F)",
        3: ">40.0 degrees C (>104.0 degrees F) for <=24 hrs",
        4: ">40.0 degrees C (>104.0 degrees F) for >24 hrs",
        5: "Death",
    }


def test_diarrhea_exact(cat):
    # CTCAE v5.0 lists Diarrhea under the MedDRA LLT 10012727 (10012735 is the PT "Diarrhoea").
    assert cat.by_code("10012735") is None
    t = cat.by_code("10012727")
    assert t.term == "Diarrhea" and t.soc == GI
    assert t.definition == (
        "A disorder characterized by an increase in frequency and/or loose or watery bowel movements."
    )
    assert t.grades == {
        1: "Increase of <4 stools per day over baseline; mild increase in ostomy output compared to baseline",
        2: "Increase of 4 - 6 stools per day over baseline; moderate increase in ostomy output "
        "compared to baseline; limiting instrumental ADL",
        3: "Increase of >=7 stools per day over baseline; hospitalization indicated; severe "
        "increase in ostomy output compared to baseline; limiting self care ADL",
        4: "Life-threatening consequences; urgent intervention indicated",
        5: "Death",
    }


def test_nausea_exact(cat):
    t = cat.by_code("10028813")
    assert t.term == "Nausea" and t.soc == GI
    assert t.definition == "A disorder characterized by a queasy sensation and/or the urge to vomit."
    assert t.grades == {
        1: "Loss of appetite without alteration in eating habits",
        2: "Oral intake decreased without significant weight loss, dehydration or malnutrition",
        3: "Inadequate oral caloric or fluid intake; tube feeding, TPN, or hospitalization indicated",
    }
    assert t.max_grade == 3


def test_vomiting_exact(cat):
    t = cat.by_code("10047700")
    assert t.term == "Vomiting" and t.soc == GI
    assert t.grades == {
        1: "Intervention not indicated",
        2: "Outpatient IV hydration; medical intervention indicated",
        3: "Tube feeding, TPN, or hospitalization indicated",
        4: "Life-threatening consequences",
        5: "Death",
    }


def test_abdominal_pain_exact(cat):
    t = cat.by_code("10000081")
    assert t.term == "Abdominal pain" and t.soc == GI
    assert t.definition == ("A disorder characterized by a sensation of marked discomfort in the abdominal region.")
    assert t.grades == {
        1: "Mild pain",
        2: "Moderate pain; limiting instrumental ADL",
        3: "Severe pain; limiting self care ADL",
    }


def test_colitis_exact(cat):
    t = cat.by_code("10009887")
    assert t.term == "Colitis" and t.soc == GI
    assert t.grades == {
        1: "Asymptomatic; clinical or diagnostic observations only; intervention not indicated",
        2: "Abdominal pain; mucus or blood in stool",
        3: "Severe abdominal pain; peritoneal signs",
        4: "Life-threatening consequences; urgent intervention indicated",
        5: "Death",
    }


def test_sepsis_starts_at_grade_3(cat):
    t = cat.by_code("10040047")
    assert t.term == "Sepsis" and t.soc == INF
    assert set(t.grades) == {3, 4, 5}
    assert t.grades[3] == "Blood culture positive with signs or symptoms; treatment indicated"
    assert cat.grade_problem("10040047", 1) == "grade_not_defined"
    assert cat.grade_problem("10040047", 2) == "grade_not_defined"
    assert cat.grade_problem("10040047", 3) is None
    assert t.max_grade == 5


def test_infections_starting_at_grade_2(cat):
    t = _by_name(cat)["Enterocolitis infectious"]
    assert min(t.grades) == 2 and t.code == "10058838"
    assert t.navigational_note == "Includes Clostridium difficile (c. diff, c. difficile)."
    assert cat.grade_problem(t.code, 1) == "grade_not_defined"


def test_grade_problem(cat):
    assert cat.grade_problem("10028813", 3) is None
    assert cat.grade_problem("10028813", 4) == "grade_not_defined"
    assert cat.grade_problem("10028813", 0) == "grade_not_defined"
    assert cat.grade_problem("10028813", 6) == "grade_not_defined"
    assert cat.grade_problem("10028813", "x") == "grade_not_defined"
    assert cat.grade_problem("10028813", None) == "grade_not_defined"
    assert cat.grade_problem("10028813", True) == "grade_not_defined"
    assert cat.grade_problem("10016558", 5) is None
    assert cat.grade_problem("10016558", "5") is None
    assert cat.grade_problem("10000081", 4) == "grade_not_defined"
    assert cat.grade_problem("99999999", 1) == "unknown_term"
    assert cat.grade_problem("", 1) == "unknown_term"


def test_by_code(cat):
    assert cat.by_code("00000000") is None
    assert cat.by_code(" 10028813 ").term == "Nausea"
    assert cat.by_code(10028813).term == "Nausea"


def test_search(cat):
    res = cat.search("diarr")
    assert res and res[0].term == "Diarrhea"
    assert [t.term for t in cat.search("DIARRHEA")][0] == "Diarrhea"
    # definition-only hit comes after term-name hits
    names = [t.term for t in cat.search("diarrhea")]
    assert "Dehydration" in names and names.index("Diarrhea") < names.index("Dehydration")
    # prefix matches come before other name matches
    names = [t.term for t in cat.search("colitis", limit=50)]
    assert names[0] == "Colitis" and "Enterocolitis" in names
    assert len(cat.search("a", limit=5)) == 5
    assert cat.search("a", limit=0) == []
    assert cat.search("") == []
    assert cat.search(None) == []
    assert cat.search("xyzzy-no-such-term") == []
    assert cat.search("腹泻") == []


def test_terms_by_soc(cat):
    groups = cat.terms_by_soc()
    socs = [soc for soc, _ in groups]
    assert socs == [s for s in SOC_NAMES if s in socs]  # SOC_NAMES order
    assert set(socs) == {t.soc for t in cat.terms}
    assert sum(len(ts) for _, ts in groups) == len(cat.terms)
    for soc, ts in groups:
        assert all(t.soc == soc for t in ts)
        assert [t.term.casefold() for t in ts] == sorted(t.term.casefold() for t in ts)
    assert dict(groups)[GI][0].term == "Abdominal distension"
    assert len(dict(groups)[GI]) == GI_COUNT


def test_general_grade_meaning():
    assert set(GENERAL_GRADE_MEANING) == {1, 2, 3, 4, 5}
    assert GENERAL_GRADE_MEANING[1].startswith("Mild")
    assert GENERAL_GRADE_MEANING[2].startswith("Moderate")
    assert GENERAL_GRADE_MEANING[3].startswith("Severe")
    assert GENERAL_GRADE_MEANING[4].startswith("Life-threatening")
    assert GENERAL_GRADE_MEANING[5] == "Death related to AE."


def _write(tmp_path, terms, version="5.0"):
    p = tmp_path / "cat.json"
    p.write_text(json.dumps({"version": version, "source": "test", "terms": terms}))
    return p


def _term(code="10000001", term="Foo", soc=GI, grades=None, definition="A disorder."):
    return {
        "code": code,
        "term": term,
        "soc": soc,
        "definition": definition,
        "grades": grades if grades is not None else {"1": "Mild", "2": "Moderate"},
    }


def test_valid_tmp_catalogue(tmp_path):
    c = load(_write(tmp_path, [_term(), _term(code="10000002", term="Bar")]))
    assert [t.term for t in c.terms] == ["Foo", "Bar"]
    assert c.by_code("10000002").grades == {1: "Mild", 2: "Moderate"}


def test_non_contiguous_grades_accepted(tmp_path):
    c = load(
        _write(
            tmp_path,
            [
                _term(term="Late", grades={"5": "Death", "3": "Severe", "4": "Life-threatening"}),
                _term(code="10000002", term="Gap", grades={"1": "a", "3": "c"}),
                _term(code="10000003", term="Foo - Other, specify", definition=""),
            ],
        )
    )
    late = c.by_code("10000001")
    assert list(late.grades) == [3, 4, 5] and late.max_grade == 5
    assert c.grade_problem("10000001", 1) == "grade_not_defined"
    assert c.grade_problem("10000002", 2) == "grade_not_defined"
    assert c.by_code("10000003").definition == ""


@pytest.mark.parametrize(
    "terms, name, fragment",
    [
        ([_term(term="Foo"), _term(term="Bar")], "Bar", "duplicate code"),
        ([_term(code="10000001", term="Foo"), _term(code="10000002", term="foo")], "foo", "duplicate term name"),
        ([_term(term="Blank", grades={"1": "Mild", "2": "  "})], "Blank", "empty"),
        ([_term(term="Dash", grades={"1": "Mild", "2": " -"})], "Dash", "empty"),
        ([_term(term="NoGrades", grades={})], "NoGrades", "no grades"),
        ([_term(term="Six", grades={"1": "a", "6": "f"})], "Six", "outside 1..5"),
        ([_term(term="Zero", grades={"0": "a"})], "Zero", "outside 1..5"),
        ([_term(term="Word", grades={"one": "a"})], "Word", "not a number"),
        ([_term(term="Alive", grades={"5": "Recovered"})], "Alive", "not 'Death'"),
        ([_term(term="Soc", soc="Stomach things")], "Soc", "unknown SOC"),
        ([_term(term="Code", code="10A")], "Code", "8 digits"),
        ([_term(term="Short", code="1234567")], "Short", "8 digits"),
        ([_term(term="NoDef", definition="")], "NoDef", "definition"),
    ],
)
def test_malformed_catalogue(tmp_path, terms, name, fragment):
    with pytest.raises(CatalogueError) as exc:
        load(_write(tmp_path, terms))
    msg = str(exc.value)
    assert repr(name) in msg
    assert fragment in msg


def test_malformed_top_level(tmp_path):
    p = tmp_path / "cat.json"
    p.write_text(json.dumps([]))
    with pytest.raises(CatalogueError):
        load(p)
    with pytest.raises(CatalogueError):
        load(_write(tmp_path, [_term()], version=""))
