"""Write the vocabulary's code lists into the JSON Schemas' enums (``make schemas``).

Each enum named in ``spinecare.vocabulary.SCHEMA_ENUMS`` is replaced by its list, keeping a
``null`` the schema allows for "not known". Run it after adding a code to the vocabulary (a new
condition, red flag or triage level); tests/test_vocabulary.py fails until the schemas agree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from spinecare.vocabulary import SCHEMA_ENUMS

SCHEMAS = Path(__file__).resolve().parent.parent / "src" / "spinecare" / "schemas"


def _at(document: Any, pointer: str) -> dict[str, Any]:
    node = document
    for part in pointer.lstrip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    if not isinstance(node, dict) or "enum" not in node:
        raise SystemExit(f"{pointer}: no enum there")
    return node


def main() -> int:
    changed = []
    for name in sorted({file for file, _ in SCHEMA_ENUMS}):
        path = SCHEMAS / name
        document = json.loads(path.read_text(encoding="utf-8"))
        before = json.dumps(document)
        for (file, pointer), codes in SCHEMA_ENUMS.items():
            if file == name:
                node = _at(document, pointer)
                node["enum"] = [*codes, *([None] if None in node["enum"] else [])]
        if json.dumps(document) != before:
            path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
            changed.append(name)
    print("updated: " + ", ".join(changed) if changed else "the schemas already agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
