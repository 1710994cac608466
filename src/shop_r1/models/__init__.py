"""Model specs -> models and tokenizers: the one place training, evaluation, serving and the demo load a model.

- `options`: the dtype and attention choices (torch-free; recipes and the CLI validate against them).
- `specs`: what a spec string names (embedded, tiny random, `.gguf` file, directory, hub id).
- `embedded`: where the embedded SmolLM2-135M-Instruct is, and the shop-r1 cache.
- `tokenizers`: the tokenizer of a spec.
- `tiny`: the 2-layer random test models.
- `checkpoints`: a spec -> a directory `from_pretrained` loads, materialised once in the cache.
- `load`: the parameter dtype, the attention kernel, the model and its tokenizer.
- `inference`: the same in eval mode on a device, for prediction, serving and the demo.

Nothing here imports torch or transformers at module level.
"""
