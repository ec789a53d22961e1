"""The trained reader -> ONNX (int8, per channel) + tokenizer, checked against the torch model; and back
(`--from-shipped`); and the mean of several readers' weights (`--average`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from index.errors import UsageError
from qa.training.data import Example
from qa.training.model import (
    base_model_path,
    batch_tensors,
    best_spans,
    encode,
    make_model,
)


def onnx_weights(onnx_file: Path) -> dict[str, np.ndarray]:
    """The export's initializers, int8 ones dequantized: `name -> array` (names without the
    `_quantized` suffix)."""
    import onnx
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(onnx_file)).graph.initializer}
    out = {}
    for name, arr in inits.items():
        if name.endswith("_quantized"):
            base = name.removesuffix("_quantized")
            scale, zero = inits[base + "_scale"], inits[base + "_zero_point"]
            out[base] = (arr.astype(np.float32) - zero.astype(np.float32)) * scale.astype(np.float32)
        elif not (name.endswith("_scale") or name.endswith("_zero_point")) and arr.dtype == np.float32:
            out[name] = arr
    return out


def weights_map(state: dict, onnx_file: Path) -> dict[str, list]:
    """Which initializer of the export holds each torch parameter (`param -> [initializer,
    transposed]`), found by value: the exporter renames the matrices it transposes."""
    found = onnx_weights(onnx_file)
    out = {}
    for pname, t in state.items():
        w = t.detach().float().numpy()
        if pname in found and found[pname].shape == w.shape:
            out[pname] = [pname, False]
            continue
        best, err = None, float("inf")
        for name, arr in found.items():
            if arr.ndim == 2 and arr.shape == w.T.shape:
                e = float(np.abs(arr - w.T).mean())
                if e < err:
                    best, err = name, e
        if best is not None and err < 0.1 * float(np.abs(w).mean()):  # the pooler is not in the export at all
            out[pname] = [best, True]
    return out


def load_from_export(model, folder: Path) -> None:
    """Set `model`'s weights from a reader export (dequantized int8): how `--from-shipped` starts
    from the shipped reader, of which only the export is committed."""
    import torch

    mapping = json.loads((folder / "weights-map.json").read_text())
    found = onnx_weights(folder / "reader.onnx")
    state = model.state_dict()
    for pname, (name, transposed) in mapping.items():
        arr = found[name].T if transposed else found[name]
        state[pname] = torch.from_numpy(np.array(arr, dtype=np.float32)).to(state[pname].dtype)
    model.load_state_dict(state)


def reader_weights(folder: Path) -> dict:
    """A reader's torch weights: its `weights.pt` where the run left one, else its export dequantized."""
    import torch

    if (folder / "weights.pt").is_file():
        return torch.load(folder / "weights.pt", weights_only=True)
    model = make_model(base_model_path())
    load_from_export(model, folder)
    return model.state_dict()


def average_weights(states: list[dict]) -> dict:
    """The mean of readers' weights, parameter by parameter (pure). Readers fine-tuned from the same
    one lie in one basin, where their mean scores better than each (a "model soup", Wortsman et al.,
    2022); readers trained apart do not, so their mean is worth nothing."""
    keys = set(states[0])
    if any(set(s) != keys or any(s[k].shape != states[0][k].shape for k in keys) for s in states):
        raise UsageError("--average: the readers do not have the same parameters; average readers made by qa train-reader")
    return {k: sum(s[k].float() for s in states) / len(states) if states[0][k].is_floating_point() else states[0][k]
            for k in states[0]}


def export(out: Path, check: list[Example]) -> dict:
    """`out/weights.pt` -> `out/reader.onnx` (int8) + tokenizer, and how well the int8 export agrees
    with the torch model on `check`."""
    import torch
    from transformers import AutoTokenizer

    from index.encoders import quantize_onnx

    src = base_model_path()
    model = make_model(src).eval()
    model.load_state_dict(torch.load(out / "weights.pt", weights_only=True))
    tokenizer = AutoTokenizer.from_pretrained(str(src))
    ids = torch.tensor([[101, 2054, 102, 7592, 2088, 102], [101, 2054, 102, 7592, 102, 0]])
    mask = (ids != 0).long()
    types = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]])
    fp32 = out / "reader.fp32.onnx"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask, types), str(fp32), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["start", "end", "has_answer"],
                          dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                        "token_type_ids": {0: "b", 1: "t"}, "start": {0: "b", 1: "t"},
                                        "end": {0: "b", 1: "t"}, "has_answer": {0: "b"}})
    quantize_onnx(fp32, out / "reader.onnx")
    fp32.unlink()
    (out / "weights-map.json").write_text(json.dumps(weights_map(model.state_dict(), out / "reader.onnx"), indent=0))
    tokenizer.backend_tokenizer.save(str(out / "tokenizer.json"))
    # agreement: the same best span and close scores, int8 ONNX against torch fp32
    import onnxruntime as ort

    sess = ort.InferenceSession(str(out / "reader.onnx"), providers=["CPUExecutionProvider"])
    enc = encode(tokenizer, check)
    same, has_t, has_o = [], [], []
    for b in range(0, len(check), 32):
        idx = list(range(b, min(b + 32, len(check))))
        i, m, t, _, _ = batch_tensors(enc, idx)
        with torch.no_grad():
            st, en, has = (x.numpy() for x in model(i, m, t))
        so, eo, ho = sess.run(None, {"input_ids": i.numpy(), "attention_mask": m.numpy(), "token_type_ids": t.numpy()})
        ctx = (t.numpy() == 1) & (m.numpy() == 1)
        a = best_spans(st, en, ctx)
        o = best_spans(so, eo, ctx)
        same += list((a[0] == o[0]) & (a[1] == o[1]))
        has_t += list(has)
        has_o += list(ho)
    return {"same_span": float(np.mean(same)), "has_answer_corr": float(np.corrcoef(has_t, has_o)[0, 1]),
            "has_answer_max_abs_diff": float(np.max(np.abs(np.array(has_t) - np.array(has_o))))}
