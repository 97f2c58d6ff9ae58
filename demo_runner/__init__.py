"""Turn a catalog model into a running, quantized CTranslate2 demo: fetch, convert, load, stream.

Knows nothing of Flask; api/ and the CLI drive it. Heavy imports (ctranslate2, transformers,
huggingface_hub) happen inside the functions that need them.
"""
