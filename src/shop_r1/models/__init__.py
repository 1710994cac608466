"""Model specs -> models and tokenizers: the one place training, evaluation, serving and the demo load a model.

- `options`: the dtype and attention choices (torch-free; recipes and the CLI validate against them).
"""
