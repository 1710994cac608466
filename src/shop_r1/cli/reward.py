"""`shop-r1 reward`: score one completion against a gold action and print the breakdown as JSON.

For checking a reward by hand, e.g.

    shop-r1 reward --completion '{"rationale": "Reviews first.", "action": {"type": "click",
        "name": "refinements.customer_reviews"}}' --gold '{"type": "click", "name": "add_to_cart.buy_now"}'

prints `{"valid": true, "format": 0.5, "type": 0.3, "attribute": 0.2, "value": 0.0, "action": 0.5,
"total": 1.0, "exact_match": false}` (the paper's Figure 1 example). `--completion -` reads stdin.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Annotated

import typer

from shop_r1.cli.options import RougeTokenizerOption
from shop_r1.rewards import RewardConfig, score_completion

CompletionOpt = Annotated[
    str, typer.Option("--completion", "-c", help="The model output to score, as raw text; '-' reads it from stdin.")
]
GoldOpt = Annotated[
    str, typer.Option("--gold", "-g", help='The gold action as JSON, e.g. \'{"type": "click", "name": "buy_now"}\'.')
]


def reward(
    completion: CompletionOpt,
    gold: GoldOpt,
    fence: Annotated[bool, typer.Option("--fence", help="Also accept the JSON inside one ```json fence.")] = False,
    binary: Annotated[bool, typer.Option("--binary", help="Ablation: binary exact-match action reward.")] = False,
    no_dars: Annotated[bool, typer.Option("--no-dars", help="Ablation: DARS factor 1.")] = False,
    no_format: Annotated[bool, typer.Option("--no-format", help="Ablation: no format reward.")] = False,
    threshold: Annotated[
        float, typer.Option("--threshold", min=0.0, max=1.0, help="ROUGE-L a DARS value term must exceed.")
    ] = RewardConfig().similarity_threshold,
    rouge_tokenizer: RougeTokenizerOption = RewardConfig().rouge_tokenizer,
) -> None:
    """Score one completion against a gold action; print every reward term as JSON (self-certainty excepted)."""
    text = sys.stdin.read() if completion == "-" else completion
    config = replace(
        RewardConfig(),
        allow_code_fence=fence,
        binary_action=binary,
        use_dars=not no_dars,
        use_format_reward=not no_format,
        similarity_threshold=threshold,
        rouge_tokenizer=rouge_tokenizer,
    )
    breakdown = score_completion(text, gold, config)  # a malformed gold raises SchemaError: one red line
    print(json.dumps(breakdown.to_dict()))
