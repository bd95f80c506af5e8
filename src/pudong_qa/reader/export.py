"""The reader's ONNX graph, made once from the bundled e5 model and a reader's trained weights.

A reader's folder holds only what training changed (the first layers of e5, the embedding LayerNorm
and the classification head, fp16); the frozen word, position and type embeddings come from the
same e5 conversion the encoder uses. The graph takes word vectors (looked up in numpy in the
encoder's memory-mapped table, as the encoder does) and returns P(the text answers the question).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np


def build_model(e5_folder: Path, weights: Path, meta: dict):
    """XLMRobertaForSequenceClassification: e5's first ``layers`` layers, then the trained weights."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    cfg = XLMRobertaConfig.from_pretrained(str(e5_folder))
    cfg.num_hidden_layers, cfg.num_labels = int(meta["layers"]), 1
    cfg._attn_implementation = "eager"  # the SDPA path drops an all-ones mask while tracing
    model = XLMRobertaForSequenceClassification(cfg)
    state = {}
    with safe_open(str(e5_folder / "model.safetensors"), "pt") as f:
        for key in f.keys():  # noqa: SIM118 - a safetensors file is not a mapping
            layer = key.split(".")[2] if key.startswith("encoder.layer.") else None
            if not key.startswith("pooler.") and (layer is None or int(layer) < cfg.num_hidden_layers):
                state["roberta." + key] = f.get_tensor(key)
    state.update({k: v.to(torch.float32) for k, v in load_file(str(weights)).items()})
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"reader weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval()


def export_reader(e5_folder: Path, weights: Path, meta_path: Path, target: Path) -> Path:
    """Write the reader's graph to ``target`` (via a temporary file, so a failure leaves nothing)."""
    import torch

    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    model = build_model(e5_folder, weights, meta)

    mean = meta.get("pooling", "cls") == "mean"

    class Probability(torch.nn.Module):
        """The head on <s> ("cls"), or on the masked mean of the last layer's states ("mean", as
        e5 pools), then a sigmoid."""

        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, inputs_embeds, attention_mask):
            # right padding: real tokens get the same positions as with input_ids
            states = self.model.roberta(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            if mean:
                m = attention_mask.unsqueeze(-1).to(states.dtype)
                states = ((states * m).sum(1) / m.sum(1).clamp(min=1.0)).unsqueeze(1)
            return torch.sigmoid(self.model.classifier(states)[:, 0])

    table = np.load(e5_folder / "word_embeddings.npy", mmap_mode="r")
    ids = np.array([[0, 6, 7, 2, 2, 8, 9, 10, 2], [0, 6, 2, 2, 8, 9, 2, 1, 1]])
    mask = (ids != 1).astype(np.int64)
    embeds = torch.from_numpy(np.ascontiguousarray(table[ids], dtype=np.float32))
    tmp = target.with_name(target.name + ".tmp")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Probability(model), (embeds, torch.from_numpy(mask)), str(tmp),
            input_names=["inputs_embeds", "attention_mask"], output_names=["probability"],
            dynamic_axes={"inputs_embeds": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "probability": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    os.replace(tmp, target)
    return target
