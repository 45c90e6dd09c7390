"""Regenerate .env.example and the README's configuration table from server/settings.py.

Run after adding or changing a setting: `.venv/bin/python scripts/gen_settings_docs.py`.
tests/server/test_settings.py fails when either file is out of step.
"""

from __future__ import annotations

import re

from server.settings import PROJECT_ROOT, documented_settings

HEADER = """# Acionar settings. Copy to .env (or export them) to override the defaults shown.
# Real environment variables win over .env. Generated from server/settings.py by
# scripts/gen_settings_docs.py; tests/server/test_settings.py keeps them in step.
"""


def env_example() -> str:
    blocks = [f"# {doc}\n{name}={default}\n" for name, default, doc in documented_settings()]
    return HEADER + "\n" + "\n".join(blocks)


def readme_table() -> str:
    rows = [
        f"| `{name}` | {f'`{default}`' if default else '(empty)'} | {doc} |"
        for name, default, doc in documented_settings()
    ]
    return "\n".join(["| variable | default | meaning |", "|---|---|---|", *rows])


def main() -> None:
    (PROJECT_ROOT / ".env.example").write_text(env_example(), encoding="utf-8")
    readme = PROJECT_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    table = re.compile(r"\| variable \| default \| meaning \|\n(?:\|.*\|\n)+")
    readme.write_text(table.sub(readme_table() + "\n", text, count=1), encoding="utf-8")


if __name__ == "__main__":
    main()
