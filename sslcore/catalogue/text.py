"""Text helpers shared by search, import and validation: normalisation, LaTeX clean-up, identifiers.

Imported files come from anyone, and Python's regex engine holds the GIL while one match runs, so
every pattern here runs in time linear in its input: a quantifier that could give characters back
is possessive (``*+``, ``++``) or can only start where a run starts (a lookbehind), so no run of
text is scanned more than a bounded number of times.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+")
_DOI = re.compile(r"10\.\d{4,9}/\S++")
_DOI_PREFIX = re.compile(r"https?://(?:dx\.)?doi\.org/|doi:\s*+", re.IGNORECASE)
# New-style arXiv ids (2007 on) and old-style ones such as "cs.CV/0601001"; group 1 is the id
# without its version.
_ARXIV = re.compile(r"(\d{4}\.\d{4,5}|[a-z\-]++(?:\.[A-Z]{2})?/\d{7})(?:v\d++)?")
_ARXIV_PATH = re.compile(r"arxiv\.org/(?:abs|pdf)/", re.IGNORECASE)
# A run of URL path characters: anything but white space and the "?" or "#" that ends the path.
_URL_PATH = re.compile(r"[^\s?#]*+")
# The LaTeX a BibTeX manager commonly writes for characters outside ASCII.
_LATEX_ESCAPES = {r"\&": "&", r"\%": "%", r"\_": "_", r"\$": "$", r"\#": "#", "~": " ", "--": "-"}
_LATEX_ACCENT = re.compile(r"\\([`'^\"~=.uvHc])\s*+(?:\{\s*+)?+([A-Za-z])\}?")
_ACCENT_MARKS = {"`": "\u0300", "'": "\u0301", "^": "\u0302", '"': "\u0308", "~": "\u0303",
                 "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327"}
# A brace, or the word "and" between white space: the white space run is matched only from its
# first character, so a long run is scanned once rather than once per position.
_AUTHOR_MARKS = re.compile(r"[{}]|(?<!\s)\s++and(?=\s)")


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents, so that "Müller" and "muller" compare equal."""
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def tokenize(text: str) -> list[str]:
    """Split folded ``text`` into alphanumeric words ("MoCo-CXR" -> ["moco", "cxr"])."""
    return _TOKEN.findall(fold(text))


@lru_cache(maxsize=1 << 16)
def singular(word: str) -> str:
    """``word`` without a plural "s" ("radiographs" -> "radiograph"); short words and "-ss" stay."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def normalise_title(title: str) -> str:
    """A title reduced to its words, for recognising the same paper under different markup."""
    return " ".join(tokenize(title))


def excerpt(value: str, limit: int = 60) -> str:
    """``value`` cut to ``limit`` characters (with "...") for quoting it in a message."""
    return value if len(value) <= limit else value[:limit] + "..."


def clean_latex(value: str) -> str:
    """BibTeX field text as a reader sees it: accents decoded, escapes and braces removed."""
    value = _LATEX_ACCENT.sub(lambda m: unicodedata.normalize("NFC", m[2] + _ACCENT_MARKS[m[1]]), value)
    for escape, plain in _LATEX_ESCAPES.items():
        value = value.replace(escape, plain)
    return " ".join(value.replace("{", "").replace("}", "").split())


def split_authors(field: str) -> list[str]:
    """Split a BibTeX author field on the top-level word "and" (braced names stay whole)."""
    names, depth, start = [], 0, 0
    for match in _AUTHOR_MARKS.finditer(field):
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
    value = value.strip()
    prefix = _DOI_PREFIX.match(value)
    return value[prefix.end():] if prefix else value


def is_valid_doi(doi: str) -> bool:
    return _DOI.fullmatch(doi) is not None


def is_valid_arxiv_id(arxiv_id: str) -> bool:
    return _ARXIV.fullmatch(arxiv_id) is not None


def source_link_problem(url: str) -> str | None:
    """What is wrong with ``url`` as the link of a public record, or None: it must be an https URL
    with a host, a doi.org link must end in a valid DOI, an arxiv.org/abs/ link in a valid arXiv id."""
    from urllib.parse import unquote, urlsplit

    if not url:
        return "no source link"
    parts = urlsplit(url)
    if parts.scheme != "https" or "." not in parts.netloc or any(c.isspace() for c in url):
        return f"source '{excerpt(url)}' is not an https link (https://host/path)"
    host = parts.netloc.lower().removeprefix("www.")
    if host in ("doi.org", "dx.doi.org") and not is_valid_doi(unquote(parts.path[1:])):
        return f"source '{excerpt(url)}' does not end in a valid DOI (10.<registrant>/<suffix>)"
    if host == "arxiv.org" and parts.path.startswith("/abs/") and not is_valid_arxiv_id(parts.path[len("/abs/"):]):
        return f"source '{excerpt(url)}' does not end in a valid arXiv id (e.g. 2002.05709)"
    return None


def arxiv_base(arxiv_id: str) -> str:
    """A valid arXiv id without its version ("2002.05709v2" -> "2002.05709"); other text unchanged."""
    match = _ARXIV.fullmatch(arxiv_id)
    return match[1] if match else arxiv_id


def arxiv_id_from(fields: dict[str, str]) -> str:
    """The arXiv id of a BibTeX entry: its ``eprint`` (when the archive is arXiv or unnamed), else
    the path of an arxiv.org/abs/ or /pdf/ URL (without ".pdf"); "" when it has none."""
    eprint = fields.get("eprint", "").strip()
    if eprint and fields.get("archiveprefix", "arxiv").strip().lower() == "arxiv":
        return eprint[len("arxiv:"):] if eprint[:len("arxiv:")].lower() == "arxiv:" else eprint
    url = fields.get("url", "").strip()
    # The id runs to the end of the URL, after its last white space, "?" or "#" (found by matching
    # the reversed URL from its start, which cannot backtrack).
    path_start = len(url) - _URL_PATH.match(url[::-1]).end()
    marker = _ARXIV_PATH.search(url, path_start)
    if marker is None or marker.end() == len(url):
        return ""
    arxiv_id = url[marker.end():]
    return arxiv_id[:-4] if arxiv_id[-4:].lower() == ".pdf" and len(arxiv_id) > 4 else arxiv_id
