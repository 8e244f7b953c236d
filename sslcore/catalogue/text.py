"""Text helpers shared by search, import and validation: normalisation, LaTeX clean-up, identifiers."""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[a-z0-9]+")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DOI_PREFIX = re.compile(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
# New-style arXiv ids (2007 on) and old-style ones such as "cs.CV/0601001".
_ARXIV = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")
_ARXIV_URL = re.compile(r"arxiv\.org/(abs|pdf)/([^\s?#]+?)(\.pdf)?$", re.IGNORECASE)
# The LaTeX a BibTeX manager commonly writes for characters outside ASCII.
_LATEX_ESCAPES = {r"\&": "&", r"\%": "%", r"\_": "_", r"\$": "$", r"\#": "#", "~": " ", "--": "-"}
_LATEX_ACCENT = re.compile(r"\\([`'^\"~=.uvHc])\s*\{?\s*([A-Za-z])\}?")
_ACCENT_MARKS = {"`": "\u0300", "'": "\u0301", "^": "\u0302", '"': "\u0308", "~": "\u0303",
                 "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327"}


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents, so that "Müller" and "muller" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def tokenize(text: str) -> list[str]:
    """Split folded ``text`` into alphanumeric words ("MoCo-CXR" -> ["moco", "cxr"])."""
    return _TOKEN.findall(fold(text))


def normalise_title(title: str) -> str:
    """A title reduced to its words, for recognising the same paper under different markup."""
    return " ".join(tokenize(title))


def clean_latex(value: str) -> str:
    """BibTeX field text as a reader sees it: accents decoded, escapes and braces removed."""
    value = _LATEX_ACCENT.sub(lambda m: unicodedata.normalize("NFC", m[2] + _ACCENT_MARKS[m[1]]), value)
    for escape, plain in _LATEX_ESCAPES.items():
        value = value.replace(escape, plain)
    return " ".join(value.replace("{", "").replace("}", "").split())


def split_authors(field: str) -> list[str]:
    """Split a BibTeX author field on the top-level word "and" (braced names stay whole)."""
    names, depth, start = [], 0, 0
    for match in re.finditer(r"[{}]|\s+and\s+", field):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 0:
            names.append(field[start:match.start()])
            start = match.end()
    names.append(field[start:])
    return [clean_latex(name) for name in names if name.strip()]


def normalise_doi(value: str) -> str:
    """A DOI without its resolver prefix ("https://doi.org/10.1/x" -> "10.1/x"); "" stays ""."""
    return _DOI_PREFIX.sub("", value.strip())


def is_valid_doi(doi: str) -> bool:
    return bool(_DOI.match(doi))


def is_valid_arxiv_id(arxiv_id: str) -> bool:
    return bool(_ARXIV.match(arxiv_id))


def arxiv_id_from(fields: dict[str, str]) -> str:
    """The arXiv id of a BibTeX entry: its ``eprint`` (when the archive is arXiv or unnamed), else
    an arxiv.org URL; "" when it has none."""
    eprint = fields.get("eprint", "").strip()
    if eprint and fields.get("archiveprefix", "arxiv").strip().lower() == "arxiv":
        return re.sub(r"^arxiv:", "", eprint, flags=re.IGNORECASE)
    match = _ARXIV_URL.search(fields.get("url", "").strip())
    return match[2] if match else ""
