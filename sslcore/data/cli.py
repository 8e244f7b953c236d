"""``python -m sslcore datasets list|describe|download``."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("datasets", help="list, describe and download datasets")
    commands = parser.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="built-in and MedMNIST datasets, with what is in the cache")
    listing.set_defaults(func=_list)

    describe = commands.add_parser("describe", help="splits, sizes, classes with counts, task and licence")
    describe.add_argument("spec", help="synthetic, a MedMNIST flag, an .npz file or an image folder")
    describe.add_argument("--image-size", type=int, help="image size to load (default: the dataset's)")
    describe.add_argument("--seed", type=int, default=0)
    describe.set_defaults(func=_describe)

    download = commands.add_parser("download", help="download a MedMNIST file from Zenodo into the cache")
    download.add_argument("flag", help="MedMNIST flag, e.g. pneumoniamnist")
    download.add_argument("--size", type=int, default=28, help="28, 64, 128 or 224 (default 28)")
    download.set_defaults(func=_download)


def _list(args: argparse.Namespace) -> int:
    from sslcore.data.npz import cache_dir
    from sslcore.data.registry import list_datasets

    print(f"{'name':<16} {'kind':<9} {'task':<12} {'classes':>7}  {'licence':<16} cached")
    for row in list_datasets():
        cached = ", ".join(f"{s}px" for s in row["cached_sizes"]) or "-"
        if row["kind"] == "built-in":
            cached = "generated"
        print(f"{row['name']:<16} {row['kind']:<9} {row['task']:<12} {row['classes']:>7}  {row['licence']:<16} {cached}")
    print(f"\ncache: {cache_dir()}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from sslcore.data.registry import load_dataset

    summary = load_dataset(args.spec, image_size=args.image_size, seed=args.seed).summary()
    print(f"{summary['name']}: {summary['task']}, {summary['channels']} channel(s), {summary['image_size']} px")
    print(f"licence: {summary['licence']}")
    print(summary["description"])
    names = summary["label_names"]
    width = max(len(n) for n in names)
    print(f"\n{'class':<{width}} " + " ".join(f"{s:>8}" for s in summary["splits"]))
    for i, name in enumerate(names):
        print(f"{name:<{width}} " + " ".join(f"{s['class_counts'][i]:>8}" for s in summary["splits"].values()))
    print(f"{'images':<{width}} " + " ".join(f"{s['images']:>8}" for s in summary["splits"].values()))
    print(f"{'patients':<{width}} " + " ".join(f"{s['patients']:>8}" for s in summary["splits"].values()))
    return 0


def _download(args: argparse.Namespace) -> int:
    from sslcore.data.npz import download

    path = download(args.flag.lower(), args.size)
    print(f"saved {path}")
    return 0
