"""`qa bench --json` on a tiny corpus emits every figure (speed itself is never asserted)."""
import json
from pathlib import Path

import pytest
from conftest import cli_json

pytestmark = pytest.mark.integration


def test_bench_json_emits_every_key(tmp_path, capsys):
    data = json.loads((Path(__file__).parents[1] / "data" / "squad2-dev-a.json").read_text())
    article = data["data"][0]
    tiny = {"version": "v2.0", "data": [{"title": article["title"], "paragraphs": article["paragraphs"][:4]}]}
    corpus = tmp_path / "tiny.json"
    corpus.write_text(json.dumps(tiny))
    out = cli_json(capsys, "bench", "--json", "--corpus", str(corpus), "--questions", "8", "--scale", "1500")
    side = {"index_s", "chunks", "tokens", "chunks_per_s", "tokens_per_s", "answer_recall@5", "retrieval_ms", "answer_ms", "peak_rss_mb"}
    assert side <= set(out["tutorial"]) and side <= set(out["ours"])
    assert out["ours"]["chunks"] > 0 and out["tutorial"]["chunks"] > 0
    assert set(out["ratios_ours_over_tutorial"]) == {"chunks_per_s", "tokens_per_s", "index_s", "answer_recall@5", "retrieval_p50",
                                                     "peak_rss", "right_document_first"}
    cold = out["cold_index_process"]
    assert cold["tutorial_s"] > 0 and cold["ours_s"] > 0 and cold["repeat"] == 1
    assert set(cold["ours_stages_s"]) == {"extract", "split", "embed", "store", "in_process", "start_up_and_model_load"}
    assert set(out["reindex"]) == {"in_process_s", "whole_process_s", "cold_over_reindex", "cold_over_reindex_process"}
    assert out["serve"]["ready_s"] > 0 and out["serve"]["peak_rss_mb"] > 100 and out["ask_process_s"] > 0
    (scale,) = out["scale"]
    assert scale["chunks"] == 1500 and scale["store"] == "embedded"
    for key in ("dense_ms", "bm25_ms", "fused_ms", "answer_ms", "query_embedding_ms"):
        assert scale[key]["p50"] is not None and scale[key]["p95"] >= scale[key]["p50"]


def test_bench_reads_a_folder_of_pdfs_with_its_questions(capsys):
    """A folder corpus: the tutorial reads its PDFs with pypdf, ours with PDFium, and both are asked
    the folder's questions.jsonl, so the right-document-first rate is measured for each."""
    pdfs = Path(__file__).parents[1] / "data" / "pdfs"
    out = cli_json(capsys, "bench", "--json", "--corpus", str(pdfs), "--questions", "6")
    for side in ("tutorial", "ours"):
        assert out[side]["chunks"] > 20 and 0 <= out[side]["right_document_first"] <= 1
        assert out[side]["answer_recall@5"] is not None
    assert out["cold_index_process"]["ours_stages_s"]["extract"] > 0


@pytest.mark.parametrize("argv", [["--questions", "0"], ["--scale", "1000", "-5"]])
def test_bench_refuses_counts_under_one_before_running(capsys, argv):
    from conftest import run_cli

    code, out, err = run_cli(capsys, "bench", *argv)
    assert code == 2 and out == "" and err.startswith("error: --questions, --repeat, --scale and --server-scale take counts")
