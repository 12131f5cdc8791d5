"""Path patterns: pull fields out of file paths, e.g. ``{street}/cog_{suit}_{entity}_{n}.png``.

``{name}`` matches one or more characters within one path segment (as few as possible, so
``{a}_{b}`` splits at the first underscore); ``{name:REGEX}`` matches a regular expression of your
own, e.g. ``{num:\\d+}``. A pattern with ``k`` segments is matched against the last ``k`` segments of
a path, so ``cog_{suit}.png`` looks at file names and ``{street}/cog_{suit}.png`` at a folder too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from manifests import UsageError, schema

_FIELD = re.compile(r"\{(\w+)(?::((?:[^{}]|\{\d*,?\d*\})+))?\}")
# Fields that may be set from a path; the other core columns belong to the store.
SETTABLE = {schema.LABEL, schema.SPLIT}


@dataclass(frozen=True)
class PathPattern:
    """A compiled path pattern."""

    text: str
    regex: re.Pattern[str]
    fields: tuple[str, ...]
    depth: int

    def match(self, rel_path: str) -> dict[str, str] | None:
        """Fields of a ``/``-separated relative path, or ``None`` when it does not match."""
        parts = rel_path.split("/")
        if len(parts) < self.depth:
            return None
        m = self.regex.fullmatch("/".join(parts[-self.depth:]))
        return m.groupdict() if m else None


def compile_pattern(text: str) -> PathPattern:
    """Compile a path pattern; a malformed one is a ``UsageError`` that says what is wrong."""
    out, fields, pos = [], [], 0
    for m in _FIELD.finditer(text):
        out.append(re.escape(text[pos:m.start()]))
        name, custom = m.group(1), m.group(2)
        if name in fields:
            raise UsageError(f"pattern field {{{name}}} appears twice in {text!r}")
        if name in schema.REQUIRED and name not in SETTABLE:
            raise UsageError(f"pattern field {{{name}}} would overwrite the {name!r} column")
        fields.append(name)
        out.append(f"(?P<{name}>{custom or '[^/]+?'})")
        pos = m.end()
    out.append(re.escape(text[pos:]))
    if not fields:
        raise UsageError(f"pattern {text!r} has no {{field}}")
    if "{" in text[pos:] or any("{" in s or "}" in s for s in re.split(_FIELD, text)[::3]):
        raise UsageError(f"pattern {text!r} has an unbalanced brace")
    try:
        regex = re.compile("".join(out))
    except re.error as exc:
        raise UsageError(f"pattern {text!r} is not valid: {exc}") from exc
    return PathPattern(text, regex, tuple(fields), text.count("/") + 1)
