import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _save_hf(tmp_path_factory, name, build, seed):
    """A Hugging Face folder (config.json + model.safetensors) of a model built from a config (no download)."""
    import torch

    torch.manual_seed(seed)
    model = build()
    path = tmp_path_factory.mktemp(name)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert_config():
    transformers = pytest.importorskip("transformers")  # the 'hf' extra; the torch-free core run has neither
    return transformers.BertConfig(vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=128, max_position_embeddings=64, pad_token_id=0)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory, tiny_bert_config):
    """A tiny BertForMaskedLM folder, its weights the config's own initialisation under torch seed 100."""
    from transformers import BertForMaskedLM

    return _save_hf(tmp_path_factory, "bert", lambda: BertForMaskedLM(tiny_bert_config), seed=100)


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(vocab_size=300, n_embd=64, n_layer=2, n_head=2, n_positions=64,
                                     bos_token_id=0, eos_token_id=0)
    return _save_hf(tmp_path_factory, "gpt2", lambda: transformers.GPT2LMHeadModel(config), seed=100)
