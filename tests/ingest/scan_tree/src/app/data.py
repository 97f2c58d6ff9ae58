import datasets
from huggingface_hub import hf_hub_download
from llama_cpp import Llama

train = datasets.load_dataset("tatsu-lab/alpaca", split="train")
local_json = datasets.load_dataset("json", data_files="train.jsonl")
card = hf_hub_download("databricks/databricks-dolly-15k", "README.md", repo_type="dataset")
llm = Llama.from_pretrained(repo_id="TheBloke/Llama-2-7B-Chat-GGUF", filename="*Q4_0.gguf")
