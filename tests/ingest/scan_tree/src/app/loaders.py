"""Loads tiiuae/falcon-7b in the docstring: a trap, not a load."""

from huggingface_hub import hf_hub_download, snapshot_download
from sentence_transformers import SentenceTransformer
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers import pipeline as make_pipeline

BASE = "mosaicml/mpt-7b"
CHAT: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
MAYBE = "bigscience/bloom"
MAYBE = "bigscience/bloomz"
# model = AutoModel.from_pretrained("EleutherAI/pythia-12b")  -- a comment, not a load


def load(name, version):
    tokenizer = AutoTokenizer.from_pretrained(BASE)
    model = AutoModelForCausalLM.from_pretrained("tiiuae/falcon-40b", trust_remote_code=False)
    chat = make_pipeline("text-generation", model=CHAT)
    summarizer = make_pipeline("summarization", "google/flan-t5-xl")
    default = make_pipeline("text-classification")
    weights = hf_hub_download(repo_id="TheBloke/Llama-2-7B-GGUF", filename="llama-2-7b.Q4_0.gguf")
    folder = snapshot_download("databricks/dolly-v2-12b", revision="main")
    embedder = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
    local = AutoModelForCausalLM.from_pretrained("./checkpoints/final")
    home = AutoModelForCausalLM.from_pretrained("/models/llama")
    bare = AutoTokenizer.from_pretrained("gpt2")
    dynamic = AutoModelForCausalLM.from_pretrained(f"meta-llama/Llama-2-{version}-hf")
    passed = AutoModelForCausalLM.from_pretrained(name)
    ambiguous = AutoModelForCausalLM.from_pretrained(MAYBE)
    text = "OpenAssistant/oasst-sft-1-pythia-12b is just a string here"
    return tokenizer, model, chat, summarizer, default, weights, folder, embedder, local, home, bare, dynamic, passed, ambiguous, text
