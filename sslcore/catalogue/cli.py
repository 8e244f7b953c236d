"""``python -m sslcore catalogue ...``: search, import, export and check the study catalogue."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("catalogue", help="search, import, export and check the study catalogue",
                                   description="The catalogue of published SSL studies in medical imaging.")
    commands = parser.add_subparsers(dest="catalogue_command", metavar="ACTION", required=True)

    search = commands.add_parser("search", help="ranked full-text search with facet filters",
                                 description="Search titles, methods, modalities, body regions, tasks, claims, "
                                             "pretraining data, authors and venues; every word must match, and "
                                             "names of one concept count as one (MAE = masked autoencoder, "
                                             "CXR = chest X-ray: review_data/synonyms.yaml).")
    search.add_argument("query", nargs="*", help="words to search for (none: all studies)")
    _add_filter_arguments(search)
    search.add_argument("--format", choices=("table", "csv", "bib", "json"), default="table")
    search.set_defaults(func=_search)

    importer = commands.add_parser("import", help="add a BibTeX file to your catalogue layer",
                                   description="Add the entries of a BibTeX file to your own catalogue layer "
                                               "(the shipped data is never changed); duplicates by DOI, arXiv "
                                               "id or title are skipped. Exits 1 when nothing could be read.")
    importer.add_argument("bibtex", metavar="FILE.bib")
    importer.add_argument("--annotations", metavar="FILE.csv",
                          help="CSV with a 'key' column and any of the columns of review_data/studies.csv")
    importer.set_defaults(func=_import)

    export = commands.add_parser("export", help="write the (filtered) catalogue as BibTeX or CSV",
                                 description="Write the catalogue, or the studies matching a query and "
                                             "filters, to standard output.")
    export.add_argument("query", nargs="*", help="words to search for (none: all studies)")
    _add_filter_arguments(export)
    export.add_argument("--format", choices=("bib", "csv"), default="bib")
    export.set_defaults(func=_search)

    check = commands.add_parser("check", help="validate review_data/ (exit 1 on any problem)",
                                description="Check the shipped review data: vocabulary, keys, DOIs, arXiv "
                                            "ids, titles and years, each study's source link, the taxonomy's "
                                            "method-to-strategy map, the synonyms and the published results.")
    check.set_defaults(func=_check)


def _add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    for facet in ("modality", "anatomy", "task", "scope", "strategy", "method"):
        parser.add_argument(f"--{facet}", action="append", default=[], metavar="VALUE",
                            help=f"keep studies with this {facet} (repeat for several)")
    parser.add_argument("--year-from", type=int, metavar="N")
    parser.add_argument("--year-to", type=int, metavar="N")


def _search(args) -> int:
    from sslcore.catalogue import Filters, export_csv, load_catalogue, to_bibtex

    filters = Filters(modality=args.modality, anatomy=args.anatomy, task=args.task, scope=args.scope,
                      strategy=args.strategy, method=args.method, year_from=args.year_from, year_to=args.year_to)
    studies = load_catalogue().search(" ".join(args.query), filters)
    if args.format == "bib":
        sys.stdout.write(to_bibtex(studies))
    elif args.format == "csv":
        sys.stdout.write(export_csv(studies))
    elif args.format == "json":
        import json

        rows = [{**s.annotations(), "title": s.title, "authors": list(s.authors), "year": s.year,
                 "venue": s.venue, "doi": s.doi, "arxiv_id": s.arxiv_id, "url": s.url, "scope": s.scope,
                 "user_added": s.user_added} for s in studies]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for s in studies:
            print(f"{s.year or '----'}  {s.key:<32}  {s.ssl_strategy or '-':<19}  {s.title[:80]}")
        print(f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'}", file=sys.stderr)
    return 0


def _import(args) -> int:
    from sslcore.catalogue import import_bibtex

    report = import_bibtex(args.bibtex, args.annotations)
    print("\n".join(report.lines()))
    return 0 if report.read_anything else 1


def _check(args) -> int:
    from sslcore.catalogue import check_review_data

    problems = check_review_data()
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)" if problems else "review data OK", file=sys.stderr)
    return 1 if problems else 0
