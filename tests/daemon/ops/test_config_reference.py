"""The README's configuration reference is generated from the config Structs and kept current."""
from __future__ import annotations

import subprocess

from msgspec import Struct

from daemon.ops import config_reference as ref
from tests.conftest import BIN, ROOT


def test_readme_reference_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    assert ref.BEGIN in readme, "README has no generated config reference block"
    assert ref.splice(readme, ref.render()) == readme, (
        "README's config reference is stale: run `basisd config-reference --write README.md`")


def test_every_config_key_is_listed() -> None:
    from daemon.config import Config
    text = ref.render()
    for section in Config.__struct_fields__:
        assert f"`{section}." in text or f"`{section}[]." in text, section
    assert "`venues[].symbols`" in text and "**required**" in text
    assert "`legging.order_timeout_s`" in text


class _Demo(Struct):
    plain: int = 3           # beside the field
    # above the field,
    # over two lines
    above: float = 0.5
    bare: str = "x"


def test_descriptions_come_from_the_comments_in_the_struct() -> None:
    docs = ref.field_comments(_Demo)
    assert docs == {"plain": "beside the field", "above": "above the field, over two lines"}
    rows = {r[0]: r for r in ref.rows(_Demo, "demo.")}
    assert rows["demo.plain"][1:3] == ("int", "`3`")
    assert rows["demo.bare"][2] == '`"x"`'


def test_splice_replaces_only_the_block() -> None:
    doc = f"head\n{ref.BEGIN}\nold\n{ref.END}\ntail\n"
    assert ref.splice(doc, f"{ref.BEGIN}\nnew\n{ref.END}\n") == f"head\n{ref.BEGIN}\nnew\n{ref.END}\ntail\n"


def test_command_prints_the_same_reference() -> None:
    out = subprocess.run([str(BIN / "basisd"), "config-reference"], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out == ref.render()
