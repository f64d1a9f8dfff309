"""What passes between llama.cpp and newsrec besides the reply: its log lines, routed to Python
logging (quiet unless `newsrec -v`), and a streamed reply's tokens, told to the running progress."""

from __future__ import annotations

import ctypes
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from newsrec.progress import note

__all__ = ["written", "llama_logs_to_debug"]


def written(chunks: Iterable[Any], text_of: Callable[[Any], str]) -> str:
    """The text of a streamed reply, telling the running progress how it goes: the wait for the
    first token (reading the prompt), then tokens so far and their rate (each chunk is one token)."""
    asked, parts = time.monotonic(), []
    for chunk in chunks:
        if text := text_of(chunk):  # the chat stream opens with the role and closes with the stop reason
            parts.append(text)
            if len(parts) == 1:
                first = time.monotonic()
                note(f"writing: the first token after {time.monotonic() - asked:.1f} s")
            else:
                rate = (len(parts) - 1) / max(time.monotonic() - first, 1e-9)
                note(f"writing: {len(parts)} tokens, {rate:.1f} tokens/s")
    return "".join(parts)


_LLAMA_LOG_LEVELS = {4: logging.ERROR}  # ggml: 1 debug, 2 info, 3 warn, 4 error; all but errors are debug
_llama_log_callback: Any = None  # held here: llama.cpp calls it as long as the process runs


def llama_logs_to_debug() -> None:
    """llama.cpp's own lines (model loading, "using full-size SWA cache", even with verbose=False)
    go to the `llama_cpp` logger at debug level (its warnings too: they are about its own set-up),
    shown with `newsrec -v`; its errors stay errors."""
    global _llama_log_callback
    import llama_cpp

    if _llama_log_callback is None:
        llama_logger = logging.getLogger("llama_cpp")

        @llama_cpp.llama_log_callback
        def to_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            llama_logger.log(_LLAMA_LOG_LEVELS.get(level, logging.DEBUG), "%s", text.decode(errors="replace").rstrip())

        _llama_log_callback = to_log
    llama_cpp.llama_log_set(_llama_log_callback, ctypes.c_void_p(0))
