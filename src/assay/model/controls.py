"""Rules for controls and their mapping sources that hold for standard and custom controls alike.

Audit Manager accepts any keyword and then silently collects nothing. Assay refuses a source
that can never produce evidence, and says which keywords were probably meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

AUTOMATED_SOURCES = ("AWS_Cloudtrail", "AWS_Config", "AWS_Security_Hub", "AWS_API_Call")
MANUAL_SOURCE = "MANUAL"
MANUAL_INPUT_TYPES = ("UPLOAD_FILE", "INPUT_TEXT")
SYSTEM_MAPPING = "System_Controls_Mapping"
PROCEDURAL_MAPPING = "Procedural_Controls_Mapping"

# The names Audit Manager shows in a control's ``controlSources``.
SOURCE_DISPLAY_NAMES = {
    "AWS_Security_Hub": "AWS Security Hub",
    "AWS_Config": "AWS Config",
    "AWS_Cloudtrail": "AWS CloudTrail",
    "AWS_API_Call": "AWS API calls",
    "MANUAL": "Manual",
}


def source_names(mapping_sources: Iterable[dict]) -> list[str]:
    """The distinct kinds of source, as Audit Manager names them, in the order they appear."""
    seen: list[str] = []
    for source in mapping_sources:
        name = SOURCE_DISPLAY_NAMES.get(source.get("sourceType", ""), "")
        if name and name not in seen:
            seen.append(name)
    return seen


def source_names_with_strength(mapping_sources: Iterable[dict]) -> list[str]:
    """The kinds of source as `source_names` gives them, each followed by the strengths its
    standard-library sources carry: "AWS Security Hub (tests)", "AWS API calls (supports)".
    A kind without a stated strength (custom controls, MANUAL) is listed bare."""
    from ..library import strength_of  # the library's loader imports this module

    strengths: dict[str, list[str]] = {}
    for source in mapping_sources:
        name = SOURCE_DISPLAY_NAMES.get(source.get("sourceType", ""), "")
        if not name:
            continue
        found = strengths.setdefault(name, [])
        strength = strength_of(source)
        if strength and strength not in found:
            found.append(strength)
    return [f"{name} ({', '.join(sorted(found, reverse=True))})" if found else name
            for name, found in strengths.items()]


def control_sources(mapping_sources: Iterable[dict]) -> str:
    """A control's ``controlSources``: the comma list of its kinds of source."""
    return ", ".join(source_names(mapping_sources)) or "Manual"


def is_automated(source: dict) -> bool:
    return source.get("sourceType") in AUTOMATED_SOURCES


def mapping_source_problems(sources: list[dict], field: str = "controlMappingSources") -> list[dict]:
    """Every reason these sources cannot work, as ``{name, message}`` fields."""
    from ..library import keywords as catalogue  # the library's loader imports this module

    problems: list[dict] = []
    for index, source in enumerate(sources):
        where = f"{field}[{index}]"

        def fail(member: str, message: str) -> None:
            problems.append({"name": f"{where}.{member}" if member else where, "message": message})

        source_type = source.get("sourceType")
        setup = source.get("sourceSetUpOption")
        keyword = source.get("sourceKeyword") or {}
        if not source.get("sourceName"):
            fail("sourceName", "Member must not be null.")
        if source_type is None:
            fail("sourceType", "Member must not be null.")
            continue
        if source_type not in AUTOMATED_SOURCES and source_type != MANUAL_SOURCE:
            fail("sourceType", f"{source_type} sources refer to AWS Control Catalog, which Assay "
                               "does not have; map the control to AWS_Config, AWS_Security_Hub, "
                               "AWS_Cloudtrail, AWS_API_Call or MANUAL sources instead.")
            continue
        expected_setup = SYSTEM_MAPPING if source_type in AUTOMATED_SOURCES else PROCEDURAL_MAPPING
        if setup is not None and setup != expected_setup:
            fail("sourceSetUpOption", f"A {source_type} source must use {expected_setup}.")
        if source_type == MANUAL_SOURCE:
            input_type = keyword.get("keywordInputType")
            if input_type is not None and input_type not in MANUAL_INPUT_TYPES:
                fail("sourceKeyword.keywordInputType",
                     "A MANUAL source takes UPLOAD_FILE or INPUT_TEXT, or no keyword.")
            continue
        if source.get("sourceFrequency") is not None and source_type != "AWS_API_Call":
            fail("sourceFrequency", "Only AWS_API_Call sources have a collection frequency.")
        if keyword.get("keywordInputType", "SELECT_FROM_LIST") != "SELECT_FROM_LIST":
            fail("sourceKeyword.keywordInputType",
                 f"A {source_type} source selects its keyword from the list (SELECT_FROM_LIST).")
        value = keyword.get("keywordValue")
        matches = () if not value or catalogue.is_valid_keyword(source_type, value) else \
            catalogue.case_matches(source_type, value)
        if not value:
            fail("sourceKeyword.keywordValue", f"A {source_type} source needs a keyword.")
        elif len(matches) > 1:
            fail("sourceKeyword.keywordValue",
                 f"'{value}' matches {', '.join(matches)} ignoring letter case; give the one "
                 "you mean, in its exact case.")
        elif not matches and not catalogue.is_valid_keyword(source_type, value):
            suggestions = catalogue.suggest_keywords(source_type, value)
            hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
            fail("sourceKeyword.keywordValue",
                 f"'{value}' is not a {source_type} keyword, so it could never collect "
                 f"evidence.{hint} ListKeywordsForDataSource lists the valid ones.")
    return problems


@dataclass(frozen=True)
class KeywordCorrection:
    """A keyword taken in its canonical case: ``given`` differs from ``keyword`` only in letter
    case, and ``keyword`` is the one valid keyword that matches."""

    index: int          # position in controlMappingSources
    source_type: str
    given: str
    keyword: str

    def describe(self) -> str:
        return (f"controlMappingSources[{self.index}].sourceKeyword.keywordValue: "
                f"'{self.given}' was taken as the {self.source_type} keyword '{self.keyword}' "
                "(same keyword, canonical letter case)")


def keyword_corrections(sources: Iterable[dict]) -> list[KeywordCorrection]:
    """The keywords of ``sources`` that ``normalised_source`` puts in canonical case. Audit
    Manager accepts such keywords and then collects nothing (its keyword matching is
    case-sensitive); Assay takes the one keyword meant and says so."""
    found = []
    for index, source in enumerate(sources):
        value = (source.get("sourceKeyword") or {}).get("keywordValue")
        fixed = _canonical_keyword(source.get("sourceType"), value)
        if value and fixed != value:
            found.append(KeywordCorrection(index, source["sourceType"], value, fixed))
    return found


def _canonical_keyword(source_type: str | None, value: str | None) -> str | None:
    from ..library import keywords as catalogue

    if source_type not in AUTOMATED_SOURCES or not value or \
            catalogue.is_valid_keyword(source_type, value):
        return value
    matches = catalogue.case_matches(source_type, value)
    return matches[0] if len(matches) == 1 else value


def normalised_source(source: dict) -> dict:
    """Fill what the rules imply: the set-up option, the keyword input type, and the
    keyword's canonical letter case (see ``keyword_corrections``)."""
    out = dict(source)
    automated = is_automated(out)
    out.setdefault("sourceSetUpOption", SYSTEM_MAPPING if automated else PROCEDURAL_MAPPING)
    if automated:
        keyword = dict(out.get("sourceKeyword") or {})
        keyword.setdefault("keywordInputType", "SELECT_FROM_LIST")
        if keyword.get("keywordValue"):
            keyword["keywordValue"] = _canonical_keyword(out["sourceType"], keyword["keywordValue"])
        out["sourceKeyword"] = keyword
        if out["sourceType"] == "AWS_API_Call":
            out.setdefault("sourceFrequency", "DAILY")
    return out
