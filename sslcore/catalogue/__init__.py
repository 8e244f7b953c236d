"""The study catalogue: published SSL studies in medical imaging, searchable and extensible.

Shipped data lives in review_data/ (studies.bib, studies.csv, taxonomy.yaml) and is read-only;
the user's additions live in a separate layer in the user's data folder.
"""

from sslcore.catalogue.checks import Problem, check_review_data
from sslcore.catalogue.facets import FACETS, FacetIndex, Filters, facet_counts
from sslcore.catalogue.importer import MAX_IMPORT_BYTES, ImportReport, import_bibtex
from sslcore.catalogue.store import Browse, Catalogue, load_catalogue, remove_user_studies, user_layer_paths
from sslcore.catalogue.study import ANNOTATION_COLUMNS, CLASSIFICATION_SCOPES, SCOPE_BY_TASK, Study, to_bibtex
from sslcore.catalogue.synonyms import Synonyms, load_synonyms
from sslcore.catalogue.taxonomy import Taxonomy, load_taxonomy

__all__ = ["ANNOTATION_COLUMNS", "CLASSIFICATION_SCOPES", "FACETS", "MAX_IMPORT_BYTES", "SCOPE_BY_TASK", "Browse",
           "Catalogue", "FacetIndex", "Filters", "ImportReport", "Problem", "Study", "Synonyms", "Taxonomy",
           "check_review_data", "export_csv", "facet_counts", "import_bibtex", "load_catalogue", "load_synonyms",
           "load_taxonomy", "remove_user_studies", "to_bibtex", "user_layer_paths"]


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(value) -> str:
    """``value`` as a cell a spreadsheet shows as text: a formula-like value gets a leading "'"."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def export_csv(studies) -> str:
    """The studies as CSV for a spreadsheet: bibliographic facts and annotations, one row a study.
    A cell that would start a formula (a title "=HYPERLINK(...)") is written with a leading "'"."""
    from sslcore.catalogue.study import to_csv

    columns = ("key", "title", "authors", "year", "venue", "doi", "arxiv_id", "url") + ANNOTATION_COLUMNS[1:]
    rows = [{**study.annotations(), "title": study.title, "authors": "; ".join(study.authors),
             "year": study.year or "", "venue": study.venue, "doi": study.doi,
             "arxiv_id": study.arxiv_id, "url": study.url} for study in studies]
    return to_csv([{column: _inert(value) for column, value in row.items()} for row in rows], columns)
