"""The catalogue of joint measures (config/joint_measures.toml): the shipped file holds together,
a file that breaks a rule stops the start with the setting named, and another file can be
named (a relative path taken from the instance folder)."""

import tomllib

import pytest

from config.settings import ConfigError, load_settings
from registry import joint_measures
from registry.list_kinds import ListKind, Side, side_of


def shipped():
    return tomllib.loads(joint_measures.DEFAULT_FILE.read_text(encoding="utf-8"))


def test_the_shipped_catalogue_has_measures_for_every_kind_each_on_one_side():
    catalogue = joint_measures.parse(shipped())
    for kind in ListKind:
        assert catalogue.for_kind(kind), kind
    for measure in catalogue.measures.values():
        assert len({side_of(kind) for kind in measure.kinds}) == 1, measure.code
        assert "(" in measure.text, f"{measure.code}: no English gloss"
    incentives = {m.code for m in catalogue.for_kind(ListKind.REDLIST)}
    assert {"approval_green_channel", "fewer_inspections"} <= incentives
    high_consumption = catalogue.measures["restrict_high_consumption"]
    assert high_consumption.kinds == ("judgment_debtor",)
    assert "限制被执行人高消费" in high_consumption.legal_basis
    assert side_of(catalogue.measures["key_supervision"].kinds[0]) == Side.BLACK


def test_the_check_names_each_bad_code_at_its_position():
    catalogue = joint_measures.parse(shipped())
    assert catalogue.check(["key_supervision"], "watch") == {}
    errors = catalogue.check(["key_supervision", "nope", "fewer_inspections"], "watch")
    assert set(errors) == {"measures.1", "measures.2"}
    assert catalogue.check([], "watch") == {
        "measures": [
            "name at least one measure code from the catalogue of joint measures "
            "(GET /api/v1/public/measures)"
        ]
    }
    # With no kind only what is unknown is wrong.
    assert set(catalogue.check(["fewer_inspections", "nope"], None)) == {"measures.1"}


def _measure(**changes):
    row = {"text": "措施 (a measure)", "legal_basis": "国发〔2016〕33号", "kinds": ["watch"]}
    return {k: v for k, v in {**row, **changes}.items() if v is not None}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["measures"].update(x=_measure()), "measure x: a code is 2 to 64"),
        (lambda d: d["measures"].update(Bad_Code=_measure()), "a code is"),
        (lambda d: d["measures"].update(extra=_measure(kinds=["greylist"])), "unknown kinds"),
        (lambda d: d["measures"].update(extra=_measure(kinds=[])), "non-empty list"),
        (lambda d: d["measures"].update(extra=_measure(kinds="watch")), "non-empty list"),
        (lambda d: d["measures"].update(extra=_measure(kinds=["watch", "watch"])), "twice"),
        (
            lambda d: d["measures"].update(extra=_measure(kinds=["watch", "redlist"])),
            "the redlist and to a blacklist",
        ),
        (lambda d: d["measures"].update(extra=_measure(text=None)), "text is missing"),
        (lambda d: d["measures"].update(extra=_measure(legal_basis="  ")), "non-empty string"),
        (lambda d: d["measures"].update(extra=_measure(colour="red")), "unknown keys colour"),
        (lambda d: d["measures"].update(extra="just text"), "must be a table"),
        (
            lambda d: [row.update(kinds=["watch"]) for row in d["measures"].values()],
            "no measure attaches to judgment_debtor, serious_illegal, abnormal, redlist",
        ),
        (lambda d: d.update(kinds={}), "unknown tables kinds"),
        (lambda d: d.update(measures={}), r"no \[measures.<code>\] table"),
    ],
)
def test_a_file_that_breaks_a_rule_is_refused(change, message):
    data = shipped()
    change(data)
    with pytest.raises(joint_measures.JointMeasuresError, match=message):
        joint_measures.parse(data)


def test_a_bad_file_stops_the_start_and_the_setting_names_another(tmp_path, monkeypatch):
    broken = tmp_path / "broken.toml"
    broken.write_text("[measures.key_supervision\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="JOINT_MEASURES_FILE: .* is not valid TOML"):
        load_settings("test", environ={}, overrides={"JOINT_MEASURES_FILE": str(broken)})
    with pytest.raises(ConfigError, match="JOINT_MEASURES_FILE: no joint-measures file"):
        load_settings("test", environ={}, overrides={"JOINT_MEASURES_FILE": str(tmp_path / "no")})
    bare = tmp_path / "bare.toml"
    bare.write_text(
        '[measures.key_supervision]\ntext = "t"\nlegal_basis = "b"\nkinds = ["watch"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="JOINT_MEASURES_FILE: no measure attaches to"):
        load_settings("test", environ={}, overrides={"JOINT_MEASURES_FILE": str(bare)})

    own = tmp_path / "own.toml"
    own.write_text(
        joint_measures.DEFAULT_FILE.read_text(encoding="utf-8").replace(
            "从严审核行政许可审批项目", "从严审核行政许可"
        ),
        encoding="utf-8",
    )
    # A relative path is the instance folder's, wherever the command runs.
    monkeypatch.setattr("config.settings.instance_dir", lambda: tmp_path)
    settings = load_settings("test", environ={}, overrides={"JOINT_MEASURES_FILE": "own.toml"})
    assert str(own) == settings.JOINT_MEASURES_FILE
    text = joint_measures.from_settings(settings).measures["strict_licensing_review"].text
    assert text.startswith("从严审核行政许可 (")
