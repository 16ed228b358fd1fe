"""CLI of reader studies: ``python -m NetZeroAICT study init|validate|design|package|audit|progress|merge|export``.

The lead's workflow: ``init`` a protocol from cases → ``validate`` → ``design`` (seeded, printed as a table)
→ ``package`` (blinded images for readers + key for the lead, audited) → readers answer into stores →
``progress`` → ``merge`` site stores → ``export`` the tidy, unblinded answers for the analysis.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    study = subparsers.add_parser("study", help="reader studies: protocol, design, blinded package, answers",
                                  description="Set up and run blinded reader studies of real vs synthetic CTAs.")
    commands = study.add_subparsers(dest="study_command", required=True, metavar="STUDY_COMMAND")

    init = commands.add_parser("init", help="write a protocol from a CSV or a folder of cases")
    init.add_argument("cases", help="CSV (id, real_cta, abnormal, [synthetic_cta, ncct, training]) or folder of cases")
    init.add_argument("--out", required=True, help="protocol file to write (.yaml or .json)")
    init.add_argument("--study-id", required=True)
    init.add_argument("--indication", required=True)
    init.add_argument("--readers", required=True, help="reader ids, comma-separated")
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("--washout-days", type=float, default=28.0)
    init.add_argument("--no-turing", action="store_true", help="no visual Turing-test session")
    init.add_argument("--answer-policy", default="lock_on_submit",
                      choices=["lock_on_submit", "editable_in_session", "editable"])
    init.add_argument("--no-synthesis", action="store_true",
                      help="refuse cases without a synthetic CTA instead of running the synthesis engine")
    init.set_defaults(func=_init)

    validate = commands.add_parser("validate", help="check a protocol and list every problem")
    validate.add_argument("protocol")
    validate.add_argument("--no-files", action="store_true", help="do not check that case files exist")
    validate.set_defaults(func=_validate)

    design = commands.add_parser("design", help="make the counterbalanced design and print it")
    design.add_argument("protocol")
    design.add_argument("--seed", type=int, help="default: the protocol's seed")
    design.add_argument("--out", help="write the design (JSON) here")
    design.set_defaults(func=_design)

    package = commands.add_parser("package", help="write the blinded reader package and the lead's key")
    package.add_argument("protocol")
    package.add_argument("--design", required=True, help="design JSON from `study design --out`")
    package.add_argument("--out", required=True, help="new package folder (for readers)")
    package.add_argument("--key", required=True, help="key file to write (for the lead; outside the package)")
    package.add_argument("--reader", action="append", help="only this reader (repeat for several)")
    package.add_argument("--session", action="append",
                         help="only this session (repeat for several); one package per reader and session, handed "
                              "out when the session may start, never gives a reader both images of a patient")
    package.add_argument("--compress", action="store_true",
                         help="gzip the images (smaller, but compressed sizes can differ between real and synthetic)")
    package.set_defaults(func=_package)

    audit = commands.add_parser("audit", help="list every blinding leak found in a package (exit 1 if any)")
    audit.add_argument("package")
    audit.add_argument("--key", help="the key, for the checks that compare real with synthetic copies")
    audit.add_argument("--protocol", help="the protocol, to look for case/patient ids and file names")
    audit.set_defaults(func=_audit)

    progress = commands.add_parser("progress", help="readings planned and submitted per reader and session")
    progress.add_argument("--store", required=True, help="SQLite file or database URL")
    progress.add_argument("--study", help="study id (default: every study in the store)")
    progress.add_argument("--json", action="store_true")
    progress.set_defaults(func=_progress)

    merge = commands.add_parser("merge", help="merge reader stores from several sites (idempotent)")
    merge.add_argument("--into", required=True, help="target store (SQLite file or URL)")
    merge.add_argument("sources", nargs="+", help="stores to merge in")
    merge.set_defaults(func=_merge)

    export = commands.add_parser("export", help="tidy CSV/parquet of the final answers, unblinded")
    export.add_argument("--store", required=True)
    export.add_argument("--protocol", required=True)
    export.add_argument("--key", required=True, nargs="+", help="the key(s) of the study's package(s)")
    export.add_argument("--out", required=True, help=".csv or .parquet")
    export.set_defaults(func=_export)


def _init(args) -> int:
    from .study.cases import init_study

    protocol = init_study(args.cases, args.out, study_id=args.study_id, indication=args.indication,
                          readers=[r.strip() for r in args.readers.split(",") if r.strip()], seed=args.seed,
                          washout_days=args.washout_days, turing=not args.no_turing,
                          answer_policy=args.answer_policy, allow_synthesis=not args.no_synthesis,
                          log=lambda m: print(m, file=sys.stderr))
    print(f"wrote {args.out}: {len(protocol.cases)} cases, {len(protocol.readers)} readers, "
          f"{len(protocol.sessions)} sessions")
    return 0


def _validate(args) -> int:
    from .study.protocol import ProtocolError, load_protocol

    try:
        protocol = load_protocol(args.protocol, check_files=not args.no_files)
    except ProtocolError as error:
        for problem in error.problems:
            print(f"{args.protocol}: {problem}", file=sys.stderr)
        print(f"{len(error.problems)} problem(s)", file=sys.stderr)
        return 2
    print(f"{args.protocol}: valid — study {protocol.study_id}, {len(protocol.cases)} cases, "
          f"{len(protocol.readers)} readers, {len(protocol.questions)} questions, {len(protocol.sessions)} sessions")
    return 0


def _design(args) -> int:
    from .study.design import make_design
    from .study.protocol import load_protocol

    design = make_design(load_protocol(args.protocol, check_files=False), args.seed)
    print(design.table())
    if args.out:
        print(f"wrote {design.save(args.out)}")
    return 0


def _package(args) -> int:
    from .study.audit import audit_package
    from .study.design import Design
    from .study.package import build_package
    from .study.protocol import load_protocol

    protocol = load_protocol(args.protocol)
    key = build_package(protocol, Design.load(args.design), args.out, args.key, reader_ids=args.reader,
                        session_ids=args.session, compress=args.compress)
    print(f"wrote {len(key.items)} images to {args.out}; key: {args.key} (keep it with the lead)")
    pairs = {(i["case_id"], i["modality"]) for i in key.items.values()}
    if any((case, "synthetic") in pairs for case, modality in pairs if modality == "real"):
        print("note: this package holds the real and the synthetic image of the same patients; to keep them apart, "
              "hand each reader one package per session (--reader R --session S) when the session may start")
    leaks = audit_package(args.out, key=key, protocol=protocol)
    for leak in leaks:
        print(f"LEAK {leak}")
    print("audit: no leak found" if not leaks else f"audit: {len(leaks)} leak(s)")
    return 1 if leaks else 0


def _audit(args) -> int:
    from .study.audit import audit_package
    from .study.protocol import load_protocol

    protocol = load_protocol(args.protocol, check_files=False) if args.protocol else None
    leaks = audit_package(args.package, key=args.key, protocol=protocol)
    for leak in leaks:
        print(leak)
    print("no leak found" if not leaks else f"{len(leaks)} leak(s) found")
    return 1 if leaks else 0


def _progress(args) -> int:
    from .study.store import ResultsStore

    with ResultsStore(args.store, create=False) as store:
        studies = [args.study] if args.study else store.study_ids()
        rows = [{"study_id": s, **row} for s in studies for row in store.progress(s)]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'study':12s} {'reader':10s} {'session':14s} {'submitted':>10s}  started / ended")
    for row in rows:
        print(f"{row['study_id']:12s} {row['reader_id']:10s} {row['session_id']:14s} "
              f"{row['submitted']:>4d} / {row['planned']:<4d}  {row['started_at'] or '-'} / {row['ended_at'] or '-'}")
    return 0


def _merge(args) -> int:
    from .study.merge import merge_stores

    for source, counts in merge_stores(args.into, args.sources).items():
        added = ", ".join(f"{n} {table}" for table, n in counts.items() if n) or "nothing new"
        print(f"{source}: {added}")
    return 0


def _export(args) -> int:
    from .study.export import export_answers
    from .study.package import PackageKey
    from .study.protocol import load_protocol
    from .study.store import ResultsStore

    protocol = load_protocol(args.protocol, check_files=False)
    with ResultsStore(args.store, create=False) as store:
        key = PackageKey.combine([PackageKey.load(path) for path in args.key])
        path = export_answers(store, protocol, key, args.out)
    print(f"wrote {Path(path)}")
    return 0
