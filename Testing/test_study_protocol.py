"""Study protocols: valid ones load, bad ones are refused with the file, the field path and what is allowed;
fuzzed protocols and answers only ever produce validation errors."""

from __future__ import annotations

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from NetZeroAICT.errors import ValidationError
from NetZeroAICT.study import Protocol, ProtocolError, check_answer, load_protocol, validate_protocol
from NetZeroAICT.study.store import ResultsStore
from Testing.study_fixtures import make_store_url, reader_protocol, study_protocol


def _cases():
    return [{"id": f"c{i}", "real_cta": f"c{i}_cta.nii.gz", "synthetic_cta": f"c{i}_syn.nii.gz",
             "truth": {"abnormal": i % 2 == 0, "diameter": 40.0 + i}} for i in range(4)]


def _valid() -> dict:
    return study_protocol(_cases())


def test_valid_protocol_loads_from_yaml_and_json(tmp_path):
    import yaml

    for name, text in (("p.yaml", yaml.safe_dump(_valid())), ("p.json", json.dumps(_valid()))):
        path = tmp_path / name
        path.write_text(text)
        protocol = load_protocol(path, check_files=False)
        assert protocol.study_id == "S1" and len(protocol.cases) == 4
        assert [q["id"] for q in protocol.questions_for("turing")] == ["turing"]
        assert "turing" not in [q["id"] for q in protocol.questions_for("diagnostic")]
        side = protocol.reader_side()
        assert "cases" not in side and "truth" not in json.dumps(side) and "cta" not in json.dumps(side)
        assert side["hanging_protocol"]["window_presets"][0]["window"] == 700.0  # aorta preset filled in


@pytest.mark.parametrize("mutate, field, allowed", [
    (lambda p: p.update(indication="knee"), "indication", "aorta"),
    (lambda p: p["questions"][0].update(type="slider"), "questions[0].type", "likert"),
    (lambda p: p["sessions"][1].update(kind="practice"), "sessions[1].kind", "turing"),
    (lambda p: p.update(answer_policy="sometimes"), "answer_policy", "lock_on_submit"),
    (lambda p: p["cases"][2]["truth"].update(abnormal="maybe"), "cases[2].truth.abnormal", "boolean"),
    (lambda p: p["cases"][1]["truth"].update(diameter=-3), "cases[1].truth.diameter", "≥ 0"),
    (lambda p: p["cases"][1]["truth"].update(colour="red"), "cases[1].truth.colour", "abnormal"),
    (lambda p: p["cases"][3].pop("real_cta"), "cases[3]", "real_cta"),
    (lambda p: p["cases"][3].update(id="c0"), "cases[3].id", "unique"),
    (lambda p: p["questions"][3].pop("choices"), "questions[3].choices", "two choices"),
    (lambda p: p["questions"][0].pop("anchors"), "questions[0].anchors", "anchors"),
    (lambda p: p["questions"][2].update(min=10, max=5), "questions[2]", "below max"),
    (lambda p: p["questions"][5].update(choices=["yes", "no"]), "questions[5].choices", "[real, synthetic]"),
    (lambda p: p["questions"][1].update(role="diameter"), "questions[1].type", "measurement"),
    (lambda p: p["sessions"].pop(1), "sessions", "exactly 2"),
    (lambda p: p["readers"][0].update(id="bad id!"), "readers[0].id", "letters, digits"),
    (lambda p: p["hanging_protocol"].update(layout="grid"), "hanging_protocol.layout", "side_by_side"),
    (lambda p: p.update(colour="blue"), "(top level)", "'colour' was unexpected"),
])
def test_each_mistake_is_named_with_its_field_path_and_what_is_allowed(tmp_path, mutate, field, allowed):
    data = _valid()
    mutate(data)
    path = tmp_path / "study.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProtocolError) as caught:
        load_protocol(path, check_files=False)
    message = str(caught.value)
    assert str(path) in message
    problem = next((p for p in caught.value.problems if p.startswith(field)), None)
    assert problem is not None, caught.value.problems
    assert allowed in problem, problem


def test_missing_files_and_yaml_syntax_errors_are_located(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(json.dumps(_valid()))
    with pytest.raises(ProtocolError) as caught:
        load_protocol(path)  # the image files do not exist
    assert any(p.startswith("cases[0].real_cta: file not found") for p in caught.value.problems)
    path.write_text("study_id: S1\ncases: [\n  - {id: a\n")
    with pytest.raises(ProtocolError, match=r"study\.yaml:\d+:\d+"):
        load_protocol(path)


def test_cli_validate_lists_every_problem(tmp_path, capsys):
    from NetZeroAICT.cli import main

    data = _valid()
    data["indication"] = "knee"
    data["questions"][0]["type"] = "slider"
    path = tmp_path / "study.json"
    path.write_text(json.dumps(data))
    assert main(["study", "validate", str(path), "--no-files"]) == 2
    err = capsys.readouterr().err
    assert "questions[0].type" in err and "problem(s)" in err
    data = _valid()
    path.write_text(json.dumps(data))
    assert main(["study", "validate", str(path), "--no-files"]) == 0
    assert "valid" in capsys.readouterr().out


# ----- fuzzing ----------------------------------------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


@st.composite
def malformed_protocols(draw):
    data = _valid()
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(_json)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(_json)
        else:
            parent.append(draw(_json))
    return data


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(malformed_protocols())
def test_fuzzed_protocols_give_only_validation_errors(data):
    snapshot = copy.deepcopy(data)
    try:
        protocol = Protocol.from_dict(data, source="fuzz.yaml")
    except ProtocolError as error:
        assert error.problems and all(isinstance(p, str) and p for p in error.problems)
        assert "fuzz.yaml" in str(error)
    else:
        assert validate_protocol(protocol.data) == []
    assert data == snapshot or (isinstance(data, dict) and _has_nan(data))  # the input is never modified


def _has_nan(value) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_fuzzed_protocol_text_gives_only_validation_errors(text):
    from NetZeroAICT.study.protocol import parse_protocol_text

    try:
        data = parse_protocol_text(text, "fuzz.yaml")
        Protocol.from_dict(data, source="fuzz.yaml")
    except ProtocolError:
        pass


_QUESTIONS = reader_protocol()["questions"]


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(_QUESTIONS), _json)
def test_fuzzed_answers_give_only_validation_errors(question, value):
    try:
        canonical = check_answer(question, value)
    except ValidationError as error:
        assert question["id"] in str(error)
    else:
        assert json.loads(json.dumps(canonical)) == canonical


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_fuzzed_answers_leave_the_store_unchanged(kind, tmp_path):
    """Malformed answers are refused with a validation or store error and change nothing; an answer is
    stored only when it is valid for its question, asked in the session, and for a planned case."""
    from NetZeroAICT.study.answers import answer_problem
    from NetZeroAICT.study.store import StoreError

    questions = {q["id"]: q for q in _QUESTIONS}
    with make_store_url(kind, tmp_path) as url:
        store = ResultsStore(url)
        store.register_study(reader_protocol())
        store.assign("S1", "r0", "d1", ["A", "B"])
        store.start_session("S1", "r0", "d1")
        counts = {"refused": 0, "accepted": 0}

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.sampled_from([*questions, "nope", ""]) | _json, _json, st.sampled_from(["A", "B", "Z"]))
        def fuzz(question_id, value, code):
            before = store.revisions()
            try:
                store.save_answer("S1", "r0", "d1", code, question_id, value)
                accepted = True
            except (ValidationError, StoreError):
                accepted = False
            after = store.revisions()
            counts["accepted" if accepted else "refused"] += 1
            if not accepted:
                assert after == before
                return
            question = questions[question_id]
            assert answer_problem(question, value) is None and question["id"] != "turing" and code != "Z"
            assert len(after) == len(before) + 1

        fuzz()
        assert counts["refused"] > 150
