#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into fuzz/corpus/<target>/ (small, valid inputs
the fuzzer mutates). Independent of Tandem's code: GGUF through the `gguf` package, protobuf
wire messages encoded by hand from cluster/proto/tandem_cluster.proto, safetensors and llama2.c
by their published layouts. Run once; the corpus is committed.
"""
import json
import os
import shutil
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gguf_seeds():
    import gguf
    import tempfile
    for qtype, name in [(gguf.GGMLQuantizationType.F32, "tiny-f32.gguf"), (gguf.GGMLQuantizationType.F16, "tiny-f16.gguf")]:
        path = os.path.join(tempfile.mkdtemp(), name)
        w = gguf.GGUFWriter(path, "llama")
        dim, hidden, vocab = 8, 16, 6
        w.add_embedding_length(dim)
        w.add_feed_forward_length(hidden)
        w.add_block_count(1)
        w.add_head_count(2)
        w.add_head_count_kv(1)
        w.add_context_length(16)
        w.add_vocab_size(vocab)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("gpt2")
        w.add_token_list(["a", "b", "ab", "<s>", "</s>", " "])
        w.add_token_types([1, 1, 1, 3, 3, 1])
        w.add_token_merges(["a b"])
        w.add_bos_token_id(3)
        w.add_eos_token_id(4)
        w.add_chat_template("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}")
        rng = np.random.default_rng(0)
        dt = np.float32 if qtype == gguf.GGMLQuantizationType.F32 else np.float16

        def t(n, shape):
            w.add_tensor(n, (rng.standard_normal(shape) * 0.1).astype(dt))
        t("token_embd.weight", (vocab, dim))
        w.add_tensor("output_norm.weight", np.ones(dim, dtype=np.float32))
        w.add_tensor("blk.0.attn_norm.weight", np.ones(dim, dtype=np.float32))
        w.add_tensor("blk.0.ffn_norm.weight", np.ones(dim, dtype=np.float32))
        t("blk.0.attn_q.weight", (dim, dim))
        t("blk.0.attn_k.weight", (4, dim))
        t("blk.0.attn_v.weight", (4, dim))
        t("blk.0.attn_output.weight", (dim, dim))
        t("blk.0.ffn_gate.weight", (hidden, dim))
        t("blk.0.ffn_up.weight", (hidden, dim))
        t("blk.0.ffn_down.weight", (dim, hidden))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        put("gguf", name, open(path, "rb").read())


def safetensors_seeds():
    def st(tensors):
        header, blobs, off = {"__metadata__": {"format": "pt"}}, b"", 0
        for name, dtype, shape, data in tensors:
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
            blobs += data
            off += len(data)
        h = json.dumps(header).encode()
        h += b" " * (-len(h) % 8)
        return struct.pack("<Q", len(h)) + h + blobs
    put("safetensors", "f32.safetensors", st([("w", "F32", [2, 4], np.arange(8, dtype=np.float32).tobytes()),
                                               ("b", "BF16", [4], b"\x80\x3f" * 4)]))
    put("safetensors", "fp8.safetensors", st([("q.weight", "F8_E4M3", [2, 16], bytes(range(32))),
                                               ("q.weight_scale", "F32", [], struct.pack("<f", 0.5))]))


def llama2c_seeds():
    dim, hidden, layers, heads, kv, vocab, seq = 8, 16, 1, 2, 2, 6, 4
    head = struct.pack("<7i", dim, hidden, layers, heads, kv, vocab, seq)
    n = vocab * dim + layers * (dim + 4 * dim * dim + dim + 3 * dim * hidden) + dim + seq * (dim // heads) // 2 * 2
    rng = np.random.default_rng(1)
    put("llama2c", "tiny.bin", head + (rng.standard_normal(n) * 0.1).astype(np.float32).tobytes())
    put("llama2c", "untied.bin", struct.pack("<7i", dim, hidden, layers, heads, kv, -vocab, seq)
        + (rng.standard_normal(n + vocab * dim) * 0.1).astype(np.float32).tobytes())


def topology_seeds():
    d = os.path.join(ROOT, "topology")
    for name in sorted(os.listdir(d)):
        if name.endswith((".yaml", ".yml")):
            shutil.copy(os.path.join(d, name), os.path.join(OUT, "topology", name))


def request_seeds():
    bodies = {
        "chat.json": {"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                      "max_tokens": 16, "temperature": 0.7, "top_p": 0.9, "stream": True, "stop": ["\n\n", "END"],
                      "stream_options": {"include_usage": True}},
        "completion.json": {"model": "m", "prompt": "Once upon a time", "max_tokens": 8, "logprobs": 2, "seed": 7},
        "tokens.json": {"model": "m", "prompt": [1, 2, 3], "n": 1, "presence_penalty": 0.5, "frequency_penalty": 0.1},
        "json_mode.json": {"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"},
                           "logprobs": True, "top_logprobs": 3, "user": "u1"},
        "responses.json": {"model": "m", "instructions": "Be brief.", "max_output_tokens": 16, "stream": True,
                           "input": [{"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                                     {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
                                     {"type": "function_call_output", "call_id": "c1", "output": "21C"}],
                           "tools": [{"type": "function", "name": "w", "parameters": {"type": "object"}}],
                           "text": {"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}}}},
    }
    for name, body in bodies.items():
        put("request", name, json.dumps(body).encode())


def varint(v):
    out = b""
    v &= (1 << 64) - 1
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload


def wire_seeds():
    hello = (field(1, 0, 3) + field(2, 2, b"smollm2") + field(3, 2, b"abc123") + field(4, 0, 1) + field(5, 0, 2)
             + field(6, 0, 0) + field(7, 0, 2) + field(12, 0, 16) + field(13, 0, 64) + field(14, 2, b"dark")
             + field(15, 2, b"mpi") + field(18, 0, 1))
    put("wire", "hello.bin", field(1, 2, hello))
    packed = lambda xs: b"".join(varint(x) for x in xs)
    chunk = field(1, 2, packed([1, 2, 3, 4])) + field(2, 0, 0) + field(3, 2, packed([0, 1])) + field(4, 0, 1)
    step = field(1, 0, 42) + field(2, 2, chunk) + field(2, 2, field(1, 2, packed([5])) + field(2, 0, 4) + field(3, 2, packed([2])))
    step += field(3, 2, field(1, 0, 1) + field(2, 0, 3))
    put("wire", "step.bin", field(2, 2, step))
    put("wire", "shutdown.bin", field(3, 2, field(1, 2, b"bye")))


if __name__ == "__main__":
    if os.path.isdir(OUT) and "--force" not in sys.argv:
        sys.exit(f"{OUT} exists; pass --force to rewrite the seeds")
    gguf_seeds()
    safetensors_seeds()
    llama2c_seeds()
    os.makedirs(os.path.join(OUT, "topology"), exist_ok=True)
    topology_seeds()
    request_seeds()
    wire_seeds()
    print("seeds written to", OUT)
