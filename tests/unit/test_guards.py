from types import SimpleNamespace

import pytest
import torch

from shop_r1.errors import ShopR1Error
from shop_r1.training.guards import SKIPPED_KEY, NonFiniteGradientGuard, gradients_finite


def _model_with_grads(bad: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 1))
    model(torch.randn(5, 4)).sum().backward()
    if bad:
        model[1].weight.grad[0, 1] = float("nan")
    return model


def _state(step: int = 0) -> SimpleNamespace:
    return SimpleNamespace(global_step=step, log_history=[])


def test_gradients_finite_sees_nan_inf_and_missing_grads():
    assert gradients_finite(_model_with_grads(bad=False).parameters())
    assert not gradients_finite(_model_with_grads(bad=True).parameters())
    model = _model_with_grads(bad=False)
    model[0].bias.grad[1] = float("-inf")
    assert not gradients_finite(model.parameters())
    assert gradients_finite(torch.nn.Linear(2, 2).parameters())  # no gradients yet: nothing to distrust


def test_a_nan_step_leaves_weights_and_adam_state_untouched():
    model = _model_with_grads(bad=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    guard = NonFiniteGradientGuard()
    guard.on_pre_optimizer_step(None, _state(), None, model=model)
    optimizer.step()
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    assert not optimizer.state  # AdamW skipped every parameter: no moments were created
    assert guard.skipped == 1


def test_finite_steps_pass_through_and_reset_the_streak():
    guard = NonFiniteGradientGuard(max_consecutive=2)
    guard.on_pre_optimizer_step(None, _state(0), None, model=_model_with_grads(bad=True))
    good = _model_with_grads(bad=False)
    grads = [p.grad.clone() for p in good.parameters()]
    guard.on_pre_optimizer_step(None, _state(1), None, model=good)
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, good.parameters(), strict=True))
    assert (guard.skipped, guard.consecutive) == (1, 0)
    guard.on_pre_optimizer_step(None, _state(2), None, model=_model_with_grads(bad=True))  # streak 1 of 2: fine
    with pytest.raises(ShopR1Error, match="2 optimizer steps in a row"):
        guard.on_pre_optimizer_step(None, _state(3), None, model=_model_with_grads(bad=True))


def test_fp16_training_leaves_overflow_to_the_gradient_scaler():
    model = _model_with_grads(bad=True)
    guard = NonFiniteGradientGuard(max_consecutive=1)
    guard.on_pre_optimizer_step(SimpleNamespace(fp16=True), _state(), None, model=model)
    assert model[1].weight.grad is not None and guard.skipped == 0
    with pytest.raises(ShopR1Error):
        guard.on_pre_optimizer_step(SimpleNamespace(fp16=False), _state(), None, model=model)


def test_the_count_is_written_into_the_trainer_log_entry():
    guard = NonFiniteGradientGuard()
    guard.on_pre_optimizer_step(None, _state(4), None, model=_model_with_grads(bad=True))
    state = SimpleNamespace(global_step=5, log_history=[{"step": 5, "loss": 1.0}])
    guard.on_log(None, state, None, logs={"loss": 1.0})
    assert state.log_history[-1][SKIPPED_KEY] == 1


def test_a_trainer_run_with_one_poisoned_batch_keeps_finite_weights(tmp_path):
    """Through transformers' own loop: the NaN batch's update is skipped, the others are applied."""
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    class Regressor(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, x, y):
            prediction = self.linear(x).squeeze(-1)
            return {"loss": ((prediction - y) ** 2).mean()}

    rows = [{"x": [1.0, 2.0], "y": 1.0}, {"x": [float("nan"), 1.0], "y": 0.0}, {"x": [0.5, -1.0], "y": 2.0}]
    torch.manual_seed(0)
    model = Regressor()
    start = model.linear.weight.detach().clone()
    guard = NonFiniteGradientGuard()
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=1, max_steps=3, learning_rate=0.1,
                             report_to="none", save_strategy="no", logging_steps=1, use_cpu=True,
                             dataloader_drop_last=False, seed=0, data_seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list(rows).with_format("torch"),
                      callbacks=[guard])
    trainer.train()
    weight = model.linear.weight.detach()
    assert torch.isfinite(weight).all() and not torch.equal(weight, start)
    assert guard.skipped == 1
    logged = [entry[SKIPPED_KEY] for entry in trainer.state.log_history if SKIPPED_KEY in entry]
    assert logged[-1] == 1
