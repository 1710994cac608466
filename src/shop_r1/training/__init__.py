"""The two training stages of Shop-R1 (arXiv 2507.17842, section 4) on TRL.

- `configs`: the argument dataclasses both stages parse from YAML recipes plus `--key value` overrides.
- `sft`: stage 1, supervised fine-tuning on whole sessions (stock `trl.SFTTrainer`).
- `grpo`: stage 2, GRPO with the Shop-R1 rewards (`trainer.ShopR1GRPOTrainer`).

Importing this package is cheap: torch, transformers and trl load inside the modules that need them.
"""
