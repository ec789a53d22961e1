"""The `qa` command: parse arguments, call the pipeline, print the result. No logic of its own.

  qa index [PATH ...] [--json] [--watch]   build or update the index (default: seeds/)
  qa ask QUESTION [--json] [--history Q]   answer from the index, with citations
  qa chat [--json]                         a conversation in the terminal: one question a line
  qa status [--json]                       what the index holds
  qa serve [--port N] [--host H] [--open]  the chat UI (same as `python ui.py`)
  qa eval DATASET [--report FILE.md]       measure answers on labelled questions
  qa train-reader [--data FILE ...]        train the reader (qa/training/)
Errors are one line on stderr with an exit code (2: bad usage or path); never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from index.errors import QAError
from index.settings import Settings, debugging, load_settings, offline_environment


def _print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def _print_report(report, as_json: bool) -> None:
    _print_json(report.to_dict()) if as_json else print(report.summary(), flush=True)


def _warm(obj, attribute: str) -> None:
    """Load a lazy attribute now, in a thread (ONNX Runtime builds its sessions without holding
    Python's lock); a failure is left for the main thread to meet and say in one line."""
    try:
        getattr(obj, attribute, None)
    except Exception:  # noqa: BLE001
        pass


def cmd_index(args, settings: Settings) -> int:
    from index.indexer import index_paths, up_to_date

    paths = [Path(p) for p in (args.paths or ["seeds"])]
    report = up_to_date(paths, settings) if not args.watch else None
    if report is None:
        import threading

        from index.embed import build_embeddings
        from index.store import open_store

        embeddings = build_embeddings(settings)  # one instance: the thread loads what the indexer uses
        threading.Thread(target=_warm, args=(embeddings, "document_encoder"), daemon=True).start()  # while Chroma opens
        store = open_store(settings, embeddings)
        report = index_paths(paths, settings, store=store, progress=not args.json)
    _print_report(report, args.json)
    if args.watch:
        import signal

        from watchfiles import watch

        # Ctrl-C stops it even when started by a process that ignores SIGINT (children inherit that)
        signal.signal(signal.SIGINT, signal.default_int_handler)

        print(f"Watching {', '.join(map(str, paths))} for changes (Ctrl-C to stop).", file=sys.stderr)
        for _changes in watch(*paths, debounce=500, step=100, rust_timeout=0, yield_on_timeout=False):
            report = index_paths(paths, settings, store=store, progress=False)
            _print_report(report, args.json)
    return 0


def _load_models(settings: Settings, question: str | None = None) -> None:
    """Load the question's models (the query encoder, the reader) and run each once, on the question
    where it can be: both are cached per process, so the chain finds them loaded and warm (ONNX Runtime
    builds its sessions and runs without holding Python's lock)."""
    from index.embed import build_embeddings
    from qa.reader import build_reader

    try:
        embeddings = build_embeddings(settings)
        getattr(embeddings, "encoder", None)
        if question:
            embeddings.embed_query(question)  # cached: the query of a question without history
        reader = build_reader(settings.reader)
        if reader is not None:
            reader.logits(question or "warm", ["up"])  # ONNX Runtime's first run allocates
    except Exception:  # noqa: BLE001 - the chain meets the same error and says it in one line
        pass


def cmd_ask(args, settings: Settings) -> int:
    import threading

    threading.Thread(target=_load_models, args=(settings, args.question), daemon=True).start()  # while LangChain and Chroma load
    from qa.chain import ask, build_chain

    chain = build_chain(settings)
    answer = ask(chain, args.question, args.history or [])
    if args.json:
        _print_json(answer.to_dict())
    else:
        from qa.render import cli_text

        print(cli_text(answer))
    return 0


CHAT_HELP = "Ask a question and press Enter. /clear starts a new conversation; /quit or Ctrl-D leaves."


def cmd_chat(args, settings: Settings) -> int:
    """Questions from stdin, one a line, each answered with the earlier ones as its history, as in
    the browser's chat; `/clear` forgets them. Interactive on a terminal (line editing, ↑ for earlier
    lines), and a plain filter otherwise (`qa chat --json < questions.txt` prints one object a line)."""
    from qa.chain import ask, build_chain
    from qa.render import cli_text

    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401  (input() gets line editing and history)

        print(CHAT_HELP, file=sys.stderr)
    chain = build_chain(settings)
    history: list[str] = []
    while True:
        try:
            line = input("> " if interactive else "").strip()
        except EOFError:
            if interactive:
                print(file=sys.stderr)  # end the prompt's line
            return 0
        if line in ("/quit", "/exit"):
            return 0
        if line == "/clear":
            history = []
            print("(new conversation)", file=sys.stderr)
            continue
        if not line:
            continue
        try:
            answer = ask(chain, line, history)
        except Exception as e:  # an answerer's server gone, say: the conversation goes on
            if debugging():
                raise
            print(error_line(e), file=sys.stderr, flush=True)
            continue
        if args.json:
            _print_json(answer.to_dict())
        else:  # from a file or a pipe, each answer under its question, as a transcript reads
            print(("" if interactive else f"> {line}\n") + cli_text(answer) + "\n", flush=True)
        history.append(line)


def status(settings: Settings) -> dict:
    from index.manifest import Manifest, manifest_path

    path = manifest_path(settings.data_dir)
    if not path.exists():
        return {"documents": 0, "chunks": 0, "model": None, "data_dir": str(settings.data_dir), "updated": None}
    m = Manifest(path)
    docs, chunks = m.counts()
    updated = m.get_meta("updated_at")
    return {
        "documents": docs, "chunks": chunks, "model": m.get_meta("model"), "data_dir": str(settings.data_dir),
        "chroma": settings.chroma_url or str(settings.chroma_dir),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(float(updated))) if updated else None,
    }


def cmd_status(args, settings: Settings) -> int:
    s = status(settings)
    if args.json:
        _print_json(s)
    else:
        print(f"{s['documents']} document(s), {s['chunks']} chunk(s); model {s['model'] or '-'}; "
              f"data in {s['data_dir']}; last update {s['updated'] or 'never'}")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    import ui

    ui.main(settings, open_browser=args.open)
    return 0


def cmd_eval(args, settings: Settings) -> int:
    from index.errors import UsageError
    from qa.measure.evaluate import run_eval
    from qa.measure.report import report_markdown

    dataset = Path(args.dataset)
    if not dataset.is_file():
        raise UsageError(f"no such dataset file: {dataset}")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be 1 or more (the number of questions to evaluate)")
    if args.wrap is not None and args.wrap < 20:
        raise UsageError("--wrap must be 20 columns or more")
    ooc = Path(args.out_of_corpus) if args.out_of_corpus else None
    if ooc is not None and not ooc.is_file():
        raise UsageError(f"--out-of-corpus {ooc}: no such file (a SQuAD .json or a .jsonl of questions)")
    m, records = run_eval(dataset, settings, docs=Path(args.docs) if args.docs else None, limit=args.limit, progress=True,
                          wrap=args.wrap, out_of_corpus=ooc)
    if args.report:
        from qa.measure.report import draw_curve

        report = Path(args.report)
        image = draw_curve(m, report.with_suffix(".png"))
        report.write_text(report_markdown(m, records, dataset.name, image=image.name), encoding="utf-8")
    if args.json:
        _print_json(m)
    else:
        r, a, c, ab = m["retrieval"], m["answers"], m["citations"], m["abstention"]
        print(f"{m['questions']} questions: hit@1 {r['hit@1']:.3f} hit@5 {r['hit@5']:.3f} hit@10 {r['hit@10']:.3f} "
              f"MRR {r['mrr']:.3f}; containment {a['containment']:.3f}, F1 {a['token_f1']:.3f}, "
              f"{a['mean_words']:.1f} words; citation validity {c['validity']:.3f}, correctness {c['correctness']:.3f}; "
              f"abstained {ab['unanswerable_abstained']:.3f} of unanswerable, {ab['answerable_wrongly_abstained']:.3f} of answerable; "
              f"p50 {m['latency_ms']['p50']:.0f} ms, p95 {m['latency_ms']['p95']:.0f} ms")
        sp = m["span"]
        print(f"answer span: exact match {sp['exact_match']:.3f}, F1 {sp['f1']:.3f} (marked on {sp['marked']:.3f} of answerable)")
        if "out_of_corpus" in m:
            o = m["out_of_corpus"]
            print(f"out of corpus: abstained on {o['abstained']:.3f} of {o['questions']} questions whose documents are not indexed")
    return 0


def cmd_train_reader(args, settings: Settings) -> int:
    from index.errors import UsageError
    from qa.training import run
    from qa.training.data import DEFAULT_SHARED

    if args.minutes is not None and args.minutes <= 0 or args.steps is not None and args.steps < 1 or args.lr <= 0:
        raise UsageError("--minutes, --steps and --lr take a positive number")
    if args.calibrate and not Path(args.calibrate).is_file():
        raise UsageError(f"--calibrate {args.calibrate}: no such file")
    if args.docs and not args.data:
        raise UsageError("--docs goes with --data FILE.jsonl (the questions about those documents)")
    if args.export_only and not args.from_shipped:
        raise UsageError("--export-only exports the shipped reader again: give --from-shipped too")
    out = Path(args.out) if args.out else settings.data_dir / "reader"
    card = run([Path(d) for d in args.data or []], Path(args.docs) if args.docs else None, out, args.minutes, args.steps,
               args.from_shipped, Path(args.shared) if args.shared else DEFAULT_SHARED, max_examples=args.max_examples,
               seed=args.seed, settings=settings, calibrate_on=Path(args.calibrate) if args.calibrate else None,
               calibrate_only=args.calibrate_only, lr=args.lr, average=[Path(d) for d in args.average or []],
               export_only=args.export_only)
    if args.json:
        _print_json(card)
    else:
        v = card.get("validation") or {}
        made = (f"the mean of {len(card['averaged'])} readers" if card.get("averaged") else
                "the shipped reader exported again" if card.get("exported") else f"{card['steps']:,} steps")
        print(f"Reader written to {out} ({made}); validation span EM {v.get('em', float('nan')):.3f}, "
              f"F1 {v.get('f1', float('nan')):.3f}, no-answer AUC {v.get('auc_head', float('nan')):.3f}. "
              f"Use it with QA_READER={out}")
    return 0


def cmd_bench(args, settings: Settings) -> int:
    from index.errors import UsageError
    from qa.measure.bench import format_table, run_bench

    corpus = Path(args.corpus) if args.corpus else None
    if corpus is not None and not corpus.exists():
        raise UsageError(f"no such corpus: {corpus}")
    if args.questions < 1 or args.repeat < 1 or any(n < 1 for n in args.scale + args.server_scale):
        raise UsageError("--questions, --repeat, --scale and --server-scale take counts of 1 or more")
    result = run_bench(corpus, args.scale, args.server_scale, args.questions, repeat=args.repeat)
    print(json.dumps(result) if args.json else format_table(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa", description="Ask questions of your documents; every answer cites its source.")
    sub = p.add_subparsers(dest="command", required=True)
    pi = sub.add_parser("index", help="build or update the index")
    pi.add_argument("paths", nargs="*", help="files or folders (default: seeds/)")
    pi.add_argument("--json", action="store_true")
    pi.add_argument("--watch", action="store_true", help="keep the index in sync with the paths")
    pa = sub.add_parser("ask", help="answer a question from the index")
    pa.add_argument("question")
    pa.add_argument("--json", action="store_true")
    pa.add_argument("--history", action="append", help="an earlier question (repeatable, oldest first)")
    pa.add_argument("--k", type=int, dest="top_k")
    pc = sub.add_parser("chat", help="a conversation in the terminal: one question a line, follow-ups understood")
    pc.add_argument("--json", action="store_true", help="one JSON object a line per answer")
    pc.add_argument("--k", type=int, dest="top_k")
    ps = sub.add_parser("status", help="what the index holds")
    ps.add_argument("--json", action="store_true")
    pe = sub.add_parser("eval", help="measure answer quality on a labelled set (isolated index)")
    pe.add_argument("dataset", help="SQuAD 2.0 .json, or .jsonl with --docs")
    pe.add_argument("--docs", help="folder of documents a .jsonl dataset is about")
    pe.add_argument("--k", type=int, dest="top_k")
    pe.add_argument("--limit", type=int, help="evaluate an evenly spread subset of N questions")
    pe.add_argument("--json", action="store_true")
    pe.add_argument("--report", help="write a markdown report here")
    pe.add_argument("--out-of-corpus", metavar="FILE",
                    help="also ask FILE's questions (SQuAD .json or .jsonl), whose documents are not indexed: all should be abstained on")
    pe.add_argument("--wrap", type=int, metavar="COLUMNS", help="hard-wrap a SQuAD file's paragraphs at COLUMNS, as text files often are")
    pt = sub.add_parser("train-reader", help="train the reader that picks answers and decides to abstain")
    pt.add_argument("--data", action="append", metavar="FILE",
                    help="SQuAD JSON (.json/.json.gz), or .jsonl questions with --docs (repeatable; default: the shipped recipe)")
    pt.add_argument("--docs", help="folder of the documents a .jsonl's questions are about")
    pt.add_argument("--out", help="where to write the reader (default: DATA_DIR/reader)")
    pt.add_argument("--minutes", type=float, help="train for this long (default 10 without --steps)")
    pt.add_argument("--steps", type=int, help="train for exactly this many steps of 32 examples")
    pt.add_argument("--from-shipped", action="store_true", help="continue from the shipped reader instead of MiniLM")
    pt.add_argument("--max-examples", type=int, help="use at most this many training examples")
    pt.add_argument("--shared", help="folder of the shipped recipe's training sets (default: ../shared/train)")
    pt.add_argument("--calibrate", metavar="FILE", help="SQuAD 2.0 JSON to set the abstention threshold on (default recipe: "
                    "its held-out validation questions)")
    pt.add_argument("--calibrate-only", action="store_true", help="only calibrate the reader already in --out")
    pt.add_argument("--average", nargs="+", metavar="DIR", help="instead of training, average the weights of these readers "
                    "(continued from the same one, e.g. models/reader and runs --from-shipped), then export and calibrate")
    pt.add_argument("--export-only", action="store_true", help="with --from-shipped: no training, only export the shipped "
                    "reader's weights again (as today's export quantises them) and calibrate")
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (default 1e-4; lower to continue a trained reader)")
    pt.add_argument("--json", action="store_true")
    pb = sub.add_parser("bench", help="benchmark against the LangChain tutorial pipeline; prints figures")
    pb.add_argument("--corpus", help="SQuAD 2.0 .json, or a folder of documents (PDFs, mixed formats) with an optional "
                    "questions.jsonl about them (default: tests/data/squad2-dev-a.json)")
    pb.add_argument("--repeat", type=int, default=1, help="cold index runs of each pipeline, alternating (the median counts)")
    pb.add_argument("--scale", type=int, nargs="*", default=[], help="chunk counts for the scale test, e.g. 10000 100000 1000000")
    pb.add_argument("--server-scale", type=int, nargs="*", default=[], help="chunk counts to run through a `chroma run` server")
    pb.add_argument("--questions", type=int, default=300)
    pb.add_argument("--json", action="store_true")
    pv = sub.add_parser("serve", help="launch the chat UI")
    pv.add_argument("--port", type=int)
    pv.add_argument("--host")
    pv.add_argument("--open", action="store_true", help="open a browser tab")
    return p


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "chat": cmd_chat, "status": cmd_status, "serve": cmd_serve, "eval": cmd_eval, "bench": cmd_bench,
            "train-reader": cmd_train_reader}


def error_line(e: Exception) -> str:
    """An error as the one line a user sees."""
    if isinstance(e, QAError):
        return f"error: {e}"
    return f"error: {type(e).__name__}: {e} (set QA_DEBUG=1 for details)"


def main(argv: list[str] | None = None) -> int:
    offline_environment()
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(top_k=getattr(args, "top_k", None), port=getattr(args, "port", None),
                                 host=getattr(args, "host", None))
        return COMMANDS[args.command](args, settings)
    except QAError as e:
        print(error_line(e), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`qa ask ... | head -1`): nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush fails silently too
        return 141  # as a command ended by SIGPIPE
    except Exception as e:  # the last line of defence: one line, not a traceback
        if debugging():
            raise
        print(error_line(e), file=sys.stderr)
        return 1


# Commands that only read: once their output is flushed, the process leaves without tearing down
# Chroma, ONNX Runtime and the interpreter's objects, which took longer than answering (docs/performance.md).
READ_ONLY = {"ask", "status"}


def entry() -> None:
    """The `qa` command (and `python -m qa`); `main` is the in-process form tests call."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv and argv[0] in READ_ONLY:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BrokenPipeError:
            pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
