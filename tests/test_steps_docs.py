"""Every built-in step has a docs page (docs/steps/<name>.md) naming all its options, and the
YAML snippets of the step pages compose into networks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from hno_framework.composer import compose_network
from hno_framework.config import parse_config
from hno_framework.problems import build_problem
from hno_plugins.steps import BUILTIN_STEPS

DOCS = Path(__file__).resolve().parents[1] / "docs" / "steps"
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


@pytest.mark.parametrize("cls", BUILTIN_STEPS, ids=lambda c: c.name)
def test_step_page_documents_every_option(cls) -> None:
    page = DOCS / f"{cls.name}.md"
    assert page.is_file(), f"missing docs page {page}"
    text = page.read_text(encoding="utf-8")
    assert f"`{cls.name}`" in text.splitlines()[0], f"{page}: the title should name `{cls.name}`"
    for option in cls.Options.model_fields:
        assert f"`{option}`" in text, f"{page}: option `{option}` is not documented"
    assert f"({cls.name}.md)" in (DOCS / "index.md").read_text(encoding="utf-8"), "zoo index does not link the page"


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_yaml_snippets_compose(page: str) -> None:
    blocks = YAML_BLOCK.findall((DOCS / page).read_text(encoding="utf-8"))
    assert blocks, f"{page} has no YAML example"
    for block in blocks:
        cfg = parse_config(yaml.safe_load(block), f"docs/steps/{page}")
        net = compose_network(build_problem(cfg.problem), cfg.network)
        assert net.num_layers == cfg.network.layers
