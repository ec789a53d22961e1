"""The embedding stage with the real bundled MiniLM: ONNX Runtime and sentence-transformers agree."""
import numpy as np
import pytest

from conftest import int8_weights_range

from index.embed import MiniLMEmbeddings
from index.encoders import export_onnx, int8_path, model_path, onnx_path

TEXTS = [
    "Li Xiaolin was born in 1953.",
    "What is it?",
    "hi",
    "Ünïcode, numbers 3.14 and a URL https://example.org in one sentence, to check the tokenizer "
    "agrees on awkward input. " * 3,
    "word " * 400,  # longer than the model's 256 tokens: both truncate the same way
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    cache = tmp_path_factory.mktemp("model-cache")
    dest = export_onnx(model_path(), onnx_path(cache))
    return cache, dest


def test_export_writes_one_named_file(exported):
    cache, dest = exported
    assert dest.exists() and dest.parent == cache and dest.stat().st_size > 50_000_000
    assert {p.name for p in cache.iterdir()} <= {dest.name, int8_path(dest).name}  # no temporary left behind
    assert onnx_path(cache) == dest  # the same weights find the same file


def test_onnx_and_torch_give_the_same_vectors(exported):
    cache, _ = exported
    onnx = MiniLMEmbeddings(runtime="onnx", dtype="float32", cache=cache)
    torch = MiniLMEmbeddings(runtime="torch", dtype="float32", cache=cache)
    a, b = onnx.encode(TEXTS), torch.encode(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() > 0.9999
    # Batching and order do not change a text's vector.
    single = onnx.encode([TEXTS[3]])[0]
    assert float(single @ a[3]) > 0.99999
    # And the vectors mean something: the question is nearer its answer than an unrelated text.
    q = onnx.embed_query("When was Li Xiaolin born?")
    assert np.dot(q, a[0]) > np.dot(q, a[4])


def test_documents_are_embedded_in_int8_and_questions_in_full_precision(exported):
    cache, dest = exported
    e = MiniLMEmbeddings(runtime="onnx", dtype="int8", cache=cache)
    docs = np.asarray(e.embed_documents(TEXTS))
    assert int8_path(dest).exists() and int8_path(dest).stat().st_size < dest.stat().st_size / 3
    assert int8_weights_range(int8_path(dest)) == (-64, 64)  # 7 bits: no CPU's int8 products overflow
    full = MiniLMEmbeddings(runtime="onnx", dtype="float32", cache=cache)
    exact = full.encode(TEXTS)
    cos = (docs * exact).sum(axis=1)
    assert cos.min() > 0.97 and cos.max() < 0.99999  # near fp32's vectors, and really quantised
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    assert np.allclose(e.embed_query(TEXTS[0]), exact[0], atol=1e-6)  # the question: full precision
    chunks, _, _ = e.encode_chunks(TEXTS[:2], [[(0, 5)], [(0, 4)]])
    assert np.allclose(chunks, docs[:2], atol=1e-6)  # indexing uses the document encoder...
    assert np.allclose(e.embed_documents([TEXTS[1]])[0], docs[1], atol=1e-6)  # ...and batch-mates change nothing
    q = e.embed_query("When was Li Xiaolin born?")
    assert np.dot(q, docs[0]) > np.dot(q, docs[4])


def test_precision_and_runtime_follow_the_settings(tmp_path):
    assert MiniLMEmbeddings(runtime="onnx", dtype="bfloat16", cache=tmp_path).runtime == "torch"
    assert MiniLMEmbeddings(runtime="onnx", dtype="float32", cache=tmp_path).runtime == "onnx"
    assert MiniLMEmbeddings(runtime="torch", dtype="int8", cache=tmp_path).runtime == "onnx"  # int8 is an ONNX model
    # `auto` is the same on every CPU, so an index and its answers do not depend on the machine
    assert MiniLMEmbeddings(runtime="onnx", dtype="auto", cache=tmp_path).dtype == "int8"
    assert MiniLMEmbeddings(runtime="torch", dtype="auto", cache=tmp_path).dtype == "float32"


def test_an_unwritable_model_cache_is_one_clear_error(tmp_path):
    from index.errors import BackendError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    e = MiniLMEmbeddings(runtime="onnx", dtype="float32", cache=blocker / "cache")
    with pytest.raises(BackendError, match="QA_MODEL_CACHE"):
        e.encode(["x"])


def test_batches_are_length_sorted_and_within_the_token_budget(exported):
    cache, _ = exported
    encoder = MiniLMEmbeddings(runtime="onnx", dtype="float32", cache=cache).encoder
    lengths = [300, 5, 40, 40, 200, 7, 120, 60, 256, 3] * 5
    groups = encoder.batches(lengths)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    flat = [lengths[i] for g in groups for i in g]
    assert flat == sorted(flat)
    assert all(len(g) == 1 or len(g) * max(lengths[i] for i in g) <= encoder.token_budget for g in groups)


def test_sentence_vectors_come_from_the_chunks_own_pass(exported):
    cache, _ = exported
    e = MiniLMEmbeddings(runtime="onnx", dtype="float32", cache=cache)
    text = "The Normans gave their name to Normandy. The river Seine flows through Paris to the sea."
    cut = text.index(" The river") + 1
    far = "word " * 300 + "A sentence past the token limit."
    vectors, parts, _ = e.encode_chunks([text, far], [[(0, cut - 1), (cut, len(text))], [(1500, len(far))]])
    assert np.allclose(vectors, e.encode([text, far]), atol=1e-5)  # the chunk vectors are the usual ones
    alone = e.encode([text[: cut - 1], text[cut:]])
    assert parts[0].shape == (2, 384) and np.allclose(np.linalg.norm(parts[0], axis=1), 1.0, atol=1e-5)
    same = parts[0] @ alone.T
    assert same[0, 0] > same[0, 1] and same[1, 1] > same[1, 0]  # each is its own sentence, in context
    assert not parts[1].any()  # truncated away: zeros, which the answerer treats as missing
    torch_runtime = MiniLMEmbeddings(runtime="torch", dtype="float32", cache=cache)
    assert torch_runtime.encode_chunks([text], [[(0, 5)]])[1] == [None]


def test_token_states_come_from_the_chunks_own_pass_and_pack_to_int8(exported):
    from index.encoders import span_tokens, word_mask
    from index.manifest import pack_tokens, unpack_tokens

    cache, _ = exported
    e = MiniLMEmbeddings(runtime="onnx", dtype="int8", cache=cache)
    text = "The Normans gave their name to Normandy. The river Seine flows through Paris."
    cut = text.index(" The river") + 1
    spans = [(0, cut - 1), (cut, len(text))]
    vectors, parts, states = e.encode_chunks([text], [spans])
    st = states[0]
    assert np.allclose(vectors, e.embed_documents([text]), atol=1e-6) and parts[0].shape == (2, 384)
    assert st.vectors.shape == (len(st.offsets), 384) and np.allclose(np.linalg.norm(st.vectors, axis=1), 1.0, atol=1e-5)
    words = [text[a:b] for a, b in st.offsets[word_mask(st.offsets, text)]]
    # every piece of every word, and nothing else (no punctuation, no special tokens)
    assert "".join(words) == "".join(w for w in text.replace(".", " ").split())
    content = [text[a:b] for a, b in st.offsets[word_mask(st.offsets, text, content_only=True)]]
    assert "The" not in content and "their" not in content and "Paris" in content
    per_sentence = span_tokens(st, text, spans)
    assert sum(len(t) for t in per_sentence) == len(words) and all(len(t) for t in per_sentence)
    # stored in int8 with the sentence counts: a quarter of float32, directions kept
    blob = pack_tokens(per_sentence)
    back = unpack_tokens(blob, 384)
    assert len(blob) == 2 * 3 + 384 * len(words)
    assert [len(t) for t in back] == [len(t) for t in per_sentence]
    assert min(float((a * b).sum(axis=1).min()) for a, b in zip(back, per_sentence)) > 0.999
    # a question's token states: full precision, from the pass that gives its vector
    q = "Who gave their name to Normandy?"
    assert np.allclose(e.query_tokens(q).vectors, e.encode_tokens([q])[0].vectors, atol=1e-5)
    assert np.allclose(e.embed_query(q), e.encode([q])[0], atol=1e-6)


def test_the_torch_runtime_gives_the_same_token_states(exported):
    cache, _ = exported
    text = "The Normans gave their name to Normandy."
    onnx = MiniLMEmbeddings(runtime="onnx", dtype="float32", cache=cache).encode_tokens([text])[0]
    torch_states = MiniLMEmbeddings(runtime="torch", dtype="float32", cache=cache).encode_tokens([text])[0]
    assert np.array_equal(onnx.offsets, torch_states.offsets)
    assert float((onnx.vectors * torch_states.vectors).sum(axis=1).min()) > 0.9999
