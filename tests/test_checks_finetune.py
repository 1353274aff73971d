"""The checks of notebook 4 (fine-tuning Enformer with HeadAdapterWrapper) work: the reference
solution of solutions/04_finetune.ipynb gets full points from the public and hidden cases, typical
wrong answers lose the case that is about them with a message that names the mistake, and the
kit's task (windows, motif-count targets, model choice per mode) is what the notebook says."""

from __future__ import annotations

import contextlib
import itertools
import re

import nbformat
import numpy as np
import pytest
import torch
from conftest import ROOT
from enformer_pytorch.finetune import HeadAdapterWrapper
from notebook_checks import HIDDEN, failed, grade, reference_namespace, with_

from a5kit import finetune_data, models, nbmeta
from a5kit.checking import LocalSubmission, load_cases
from a5kit.kernel_server.probes import forward, parameters, tiny_enformer
from a5kit.public_checks import q5a as q5a_checks
from a5kit.public_checks.q5c import pearson_per_track

NOTEBOOK = ROOT / "solutions" / "04_finetune.ipynb"
pytestmark = pytest.mark.usefixtures(
    "public_cases_replay_alike"
)  # the notebook and the autograder give the same points
QUESTIONS = nbmeta.autograded_questions(NOTEBOOK)  # its grade cells: a new question needs no edit here
POINTS = nbmeta.graded_points(NOTEBOOK, autograded=True)  # the grade cells' nbgrader points: the one source


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def notebook() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def reference(notebook) -> dict:
    """The namespace of the notebook's setup cell and solution cells: the reference solution."""
    return reference_namespace(notebook, NOTEBOOK.name)


# --- the reference gets everything ------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
def test_reference_solution_gets_full_points(reference, question):
    results = grade(reference, question)
    assert not failed(results), {n: r.output for n, r in results.items() if not r.passed}
    assert sum(r.score for r in results.values()) == pytest.approx(POINTS[question])
    assert any(r.hidden for r in results.values()) and any(not r.hidden for r in results.values())


def test_grade_cells_carry_the_points_of_their_cases(notebook):
    assert list(POINTS) == QUESTIONS
    for question, points in POINTS.items():
        assert sum(c.points for c in load_cases(question, HIDDEN)) == points
    for question, points in nbmeta.graded_points(notebook).items():  # the task says what the grade cell gives
        assert f"({points:g} points" in nbmeta.source(nbmeta.find(notebook, f"{question}-task")), question
    assert set(nbmeta.graded_points(notebook, autograded=False)) == {"q5d", "q5e"}


# --- the task -----------------------------------------------------------------------------------


def _count(sequence: str, pattern: str) -> int:
    return len(re.findall(f"(?=({pattern}))", sequence))


def test_motif_counts_match_a_regex_count_per_bin():
    rng = np.random.default_rng(0)
    sequence = "".join(rng.choice(list("ACGTN"), 8 * 128, p=[0.3, 0.2, 0.2, 0.28, 0.02]))
    counts = finetune_data.motif_counts(sequence)
    assert counts.shape == (8, 3) and counts.dtype == np.float32
    for b in range(8):
        # occurrences starting in the bin; they may run into the next bin
        chunk = sequence[b * 128 : b * 128 + 128 + 5]
        starts = lambda p, chunk=chunk: sum(1 for m in re.finditer(f"(?=({p}))", chunk) if m.start() < 128)
        assert counts[b].tolist() == [starts("CG"), starts("AAAA|TTTT"), starts("CA[ACGT][ACGT]TG")]
    assert finetune_data.motif_counts("CGAAAAACAGCTG" + "G" * 115).tolist() == [[1, 2, 1]]
    with pytest.raises(ValueError, match="multiple of 128"):
        finetune_data.motif_counts("ACGT")


def test_windows_are_six_adjacent_training_tiles_a_gap_and_two_held_out_tiles_of_100_bins():
    w = finetune_data.WINDOWS
    train, held_out = finetune_data.TRAIN_WINDOWS, finetune_data.HELD_OUT_WINDOWS
    assert len(w) == 8 and all(x.chrom == "chr11" and len(x) == 12_800 for x in w)
    assert train + held_out == w and len(train) == 6
    assert all(a.end == b.start for a, b in itertools.pairwise(train)) and held_out[0].end == held_out[1].start
    assert held_out[0].start - train[-1].end == 12_800  # no held-out bin borders a training bin
    assert w[0].start + w[-1].end == 2 * 35_140_086  # centred on the Fig. 1d locus


def test_load_in_tiny_mode_gives_scaled_targets(tiny):
    data = finetune_data.load()
    assert data["X_train"].shape == (6, 12_800, 4) and data["Y_train"].shape == (6, 100, 3)
    assert data["X_test"].shape == (2, 12_800, 4) and data["Y_test"].shape == (2, 100, 3)
    np.testing.assert_allclose(data["Y_train"].reshape(-1, 3).mean(axis=0), 1.0, rtol=1e-5)
    assert "synthetic" in data["source"]


def test_the_model_is_pretrained_only_live_and_labelled_tiny_otherwise(tiny, monkeypatch):
    model, label = finetune_data.enformer_for_finetuning()
    assert finetune_data.is_tiny(label) and "tiny mode" in label and model.dim == models.TINY_ENFORMER_HPARAMS["dim"]
    monkeypatch.setenv("A5KIT_MODE", "replay")
    model, label = finetune_data.enformer_for_finetuning()
    assert finetune_data.is_tiny(label) and "replay" in label and "not biology" in label
    assert not model.training


def test_the_auto_set_target_length_caveat_holds_for_the_installed_enformer_pytorch():
    """What the model answer of q5e says, checked against the installed source."""
    enformer = tiny_enformer(seed=0)
    x = torch.zeros(1, 896 * 128, 4)
    x[0, :, 0] = 1
    enformer.eval()
    with torch.no_grad():
        assert enformer(x, head="human").shape == (1, 896, models.HUMAN_TRACKS)
        wrapper = HeadAdapterWrapper(enformer=enformer, num_tracks=3)
        assert wrapper.enformer is enformer  # not a copy
        wrapper(torch.zeros(1, 100 * 128, 4), target=torch.ones(1, 100, 3), freeze_enformer=True)
        assert enformer.crop_final.target_length == 100
        assert enformer(x, head="human").shape == (1, 100, models.HUMAN_TRACKS)
        assert "crop_final.target_length" not in str(list(enformer.state_dict()))
        with pytest.raises(ValueError, match="less than target length"):
            enformer(torch.zeros(1, 50 * 128, 4), head="human")


# --- q5a ------------------------------------------------------------------------------------------


def test_a_head_of_the_wrong_size_is_told_num_tracks(reference):
    results = grade(
        with_(
            reference,
            make_head_adapter=lambda enformer, num_tracks: HeadAdapterWrapper(enformer=enformer, num_tracks=1),
        ),
        "q5a",
    )
    assert failed(results) == set(results)
    assert "num_tracks = 3" in results["adapter_predicts_batch_by_bins_by_tracks"].output


def test_wrapping_another_enformer_or_no_wrapper_is_explained(reference):
    def another(enformer, num_tracks):
        return HeadAdapterWrapper(enformer=tiny_enformer(seed=9, target_length=-1), num_tracks=num_tracks)

    results = grade(with_(reference, make_head_adapter=another), "q5a")
    assert failed(results) == set(results)
    assert "not the one passed in" in results["adapter_predicts_batch_by_bins_by_tracks"].output

    results = grade(with_(reference, make_head_adapter=lambda enformer, num_tracks: enformer), "q5a")
    assert failed(results) == set(results)
    assert (
        "should return an enformer_pytorch.finetune.HeadAdapterWrapper"
        in results["adapter_predicts_batch_by_bins_by_tracks"].output
    )


def test_a_head_without_softplus_loses_the_output_case(reference):
    results = grade(
        with_(
            reference,
            make_head_adapter=lambda enformer, num_tracks: HeadAdapterWrapper(
                enformer=enformer, num_tracks=num_tracks, output_activation=None
            ),
        ),
        "q5a",
    )
    assert failed(results) == {"adapter_predicts_batch_by_bins_by_tracks"}
    assert "softplus" in results["adapter_predicts_batch_by_bins_by_tracks"].output


# --- q5b ------------------------------------------------------------------------------------------


def make_finetune(
    *,
    pass_freeze=True,
    always_freeze=False,
    step=True,
    as_tensors=False,
    one_pass=False,
    head_only=False,
    trunk_always_eval=False,
):
    """Variants of the reference loop with one typical mistake each."""

    def finetune(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
        groups = [{"params": list(model.to_tracks.parameters()), "lr": lr}]
        if not head_only:
            groups.append(
                {
                    "params": [p for p in model.enformer.parameters() if p.requires_grad],
                    "lr": lr / 10 if trunk_lr is None else trunk_lr,
                }
            )
        optimizer = torch.optim.Adam(groups)
        model.train()
        if freeze_enformer or always_freeze or trunk_always_eval:
            model.enformer.eval()
        losses = []
        order = batches if one_pass else [batches[i % len(batches)] for i in range(steps)]
        for sequence, target in order:
            optimizer.zero_grad()
            kwargs = {"freeze_enformer": True if always_freeze else freeze_enformer} if pass_freeze else {}
            loss = model(sequence, target=target, **kwargs)
            loss.backward()
            if step:
                optimizer.step()
            losses.append(loss if as_tensors else loss.item())
        return losses

    return finetune


def test_forgetting_the_freeze_flag_with_only_the_head_in_the_optimizer_loses_the_frozen_case(reference):
    """Issue 22: no weight of the trunk moves (it is not in the optimizer), but every step back-propagates through it."""
    head_only_unfrozen = make_finetune(pass_freeze=False, head_only=True)

    def finetune(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
        if freeze_enformer:
            return head_only_unfrozen(model, batches, steps, lr, freeze_enformer, trunk_lr)
        return reference["finetune"](model, batches, steps, lr, freeze_enformer=False, trunk_lr=trunk_lr)

    results = grade(with_(reference, finetune=finetune), "q5b")
    assert failed(results) == {"frozen_trunk_stays_fixed_while_the_head_learns"}
    assert "hold a gradient" in results["frozen_trunk_stays_fixed_while_the_head_learns"].output


def test_forgetting_to_freeze_loses_the_frozen_case(reference):
    results = grade(with_(reference, finetune=make_finetune(pass_freeze=False)), "q5b")
    assert failed(results) == {"frozen_trunk_stays_fixed_while_the_head_learns"}
    assert "trunk weights changed" in results["frozen_trunk_stays_fixed_while_the_head_learns"].output
    assert "freeze_enformer=freeze_enformer" in results["frozen_trunk_stays_fixed_while_the_head_learns"].output


def test_always_freezing_or_training_only_the_head_loses_the_unfrozen_case(reference):
    for variant in (make_finetune(always_freeze=True), make_finetune(head_only=True)):
        results = grade(with_(reference, finetune=variant), "q5b")
        assert failed(results) == {"unfrozen_trunk_is_trained_too", "finetune_returns_one_float_loss_per_step"}
        assert "not only the head's" in results["unfrozen_trunk_is_trained_too"].output
        assert "no trunk weight changed" in results["finetune_returns_one_float_loss_per_step"].output


def test_an_unfrozen_trunk_in_evaluation_mode_loses_exactly_the_public_case(reference):
    """Issue 22: the spec says dropout on when the trunk is trained; a loop that always puts the trunk in eval mode is named."""
    results = grade(with_(reference, finetune=make_finetune(trunk_always_eval=True)), "q5b")
    assert failed(results) == {"finetune_returns_one_float_loss_per_step"}
    assert "ran in evaluation mode although it is trained" in results["finetune_returns_one_float_loss_per_step"].output


def test_one_learning_rate_for_head_and_trunk_loses_the_public_case(reference):
    def one_lr(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        model.train()
        if freeze_enformer:
            model.enformer.eval()
        losses = []
        for step in range(steps):
            sequence, target = batches[step % len(batches)]
            optimizer.zero_grad()
            loss = model(sequence, target=target, freeze_enformer=freeze_enformer)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    results = grade(with_(reference, finetune=one_lr), "q5b")
    assert failed(results) == {"finetune_returns_one_float_loss_per_step"}
    assert "trunk_lr" in results["finetune_returns_one_float_loss_per_step"].output


def test_not_calling_optimizer_step_loses_the_learning_cases(reference):
    results = grade(with_(reference, finetune=make_finetune(step=False)), "q5b")
    learning = {
        "frozen_trunk_stays_fixed_while_the_head_learns",
        "loss_falls_over_the_steps",
        "unfrozen_trunk_is_trained_too",
    }
    assert failed(results) == learning | {"finetune_returns_one_float_loss_per_step"}
    assert all("optimizer.step()" in results[n].output for n in learning)


def test_losses_as_tensors_with_grad_are_told_to_use_item(reference):
    results = grade(with_(reference, finetune=make_finetune(as_tensors=True)), "q5b")
    assert "finetune_returns_one_float_loss_per_step" in failed(results)
    assert "loss.item()" in results["finetune_returns_one_float_loss_per_step"].output


def test_one_pass_over_the_batches_is_told_the_number_of_steps(reference):
    results = grade(with_(reference, finetune=make_finetune(one_pass=True)), "q5b")
    assert "finetune_returns_one_float_loss_per_step" in failed(results)
    assert "one loss per optimisation step (3 values)" in results["finetune_returns_one_float_loss_per_step"].output


# --- q5c ------------------------------------------------------------------------------------------


def _predictions(model, X, Y):
    model.eval()
    model.enformer.set_target_length(Y.shape[1])
    with torch.no_grad():
        return model(torch.as_tensor(X)).numpy().astype(np.float64)


def test_evaluate_variants_are_explained(reference):
    def squared(model, X, Y):
        return pearson_per_track(_predictions(model, X, Y), Y) ** 2

    def per_window(model, X, Y):
        P = _predictions(model, X, Y)
        return np.mean([pearson_per_track(p, y) for p, y in zip(P, Y)], axis=0)

    def all_tracks_together(model, X, Y):
        return float(np.corrcoef(_predictions(model, X, Y).ravel(), np.ravel(Y))[0, 1])

    def train_mode(model, X, Y):
        model.train()
        model.enformer.set_target_length(Y.shape[1])
        with torch.no_grad():
            return pearson_per_track(model(torch.as_tensor(X)).numpy(), Y)

    def no_crop(model, X, Y):
        model.eval()
        with torch.no_grad():
            return pearson_per_track(model(torch.as_tensor(X)).numpy(), Y)

    expected = {
        squared: "r squared",
        per_window: "averaged the r of each window",
        all_tracks_together: "one r per track",
        train_mode: "model.eval()",
        no_crop: "set_target_length(targets.shape[1])",
    }
    for variant, message in expected.items():
        results = grade(with_(reference, evaluate=variant), "q5c")
        assert failed(results), variant.__name__
        assert any(message in r.output for r in results.values() if not r.passed), (
            variant.__name__,
            {n: r.output for n, r in results.items()},
        )
    assert failed(grade(with_(reference, evaluate=no_crop), "q5c")) == {
        "evaluate_gives_pearson_r_per_track",
        "evaluate_works_on_an_adapter_that_still_crops_to_896_bins",
    }


def test_pearson_reference_matches_numpy():
    rng = np.random.default_rng(1)
    P, Y = rng.random((3, 16, 2)), rng.random((3, 16, 2))
    expected = [np.corrcoef(P[..., i].ravel(), Y[..., i].ravel())[0, 1] for i in range(2)]
    np.testing.assert_allclose(pearson_per_track(P, Y), expected)


def test_forward_probe_restores_the_training_mode_and_matches_eval():
    model = HeadAdapterWrapper(enformer=tiny_enformer(seed=0, target_length=-1), num_tracks=2)
    X, _ = q5a_checks.task_data(seed=0, batch=1, length=2048, num_tracks=2)
    model.train()
    out = forward(model, torch.as_tensor(X))
    assert model.training and out.shape == (1, 16, 2)
    np.testing.assert_array_equal(out, forward(model, torch.as_tensor(X)))
    assert set(parameters(model)) >= {"to_tracks.0.weight", "to_tracks.0.bias"}


def test_a_missing_function_costs_only_its_cases(reference):
    assert failed(grade(with_(reference, evaluate=None), "q5c")) == set(grade(with_(reference, evaluate=None), "q5c"))
    assert not failed(grade(with_(reference, evaluate=None), "q5b"))


def test_the_loss_falls_margin_is_what_the_reference_reaches(reference):
    """The hidden loss_falls case asks for a drop of 0.1; the reference drops several times more."""
    from a5kit.kernel_server.probes import manual_seed, tensor_batches

    manual_seed(40)
    model = HeadAdapterWrapper(enformer=tiny_enformer(seed=3, target_length=-1), num_tracks=3)
    losses = np.array(
        reference["finetune"](
            model, tensor_batches([q5a_checks.task_data(seed=40, batch=2, length=2048)]), 20, 3e-3, freeze_enformer=True
        )
    )
    assert losses[:5].mean() - losses[-5:].mean() > 0.3


# --- issue 14: deepcopy, eval-mode trunk, set_target_length, silent bars; issue 11: training verified in numpy ----


def test_wrapping_a_deepcopy_loses_the_public_q5a_case(reference):
    import copy

    results = grade(
        with_(
            reference,
            make_head_adapter=lambda enformer, num_tracks: HeadAdapterWrapper(
                enformer=copy.deepcopy(enformer), num_tracks=num_tracks
            ),
        ),
        "q5a",
    )
    assert "adapter_predicts_batch_by_bins_by_tracks" in failed(results)
    assert "copy.deepcopy" in results["adapter_predicts_batch_by_bins_by_tracks"].output


def test_training_the_frozen_trunk_with_dropout_on_loses_the_frozen_cases(reference):
    def dropout_on(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        model.train()  # the whole model, the frozen trunk included: dropout on
        losses = []
        for step in range(steps):
            sequence, target = batches[step % len(batches)]
            optimizer.zero_grad()
            loss = model(sequence, target=target, freeze_enformer=freeze_enformer)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    results = grade(with_(reference, finetune=dropout_on), "q5b")
    assert {"frozen_trunk_stays_fixed_while_the_head_learns", "loss_falls_over_the_steps"} <= failed(results)
    assert "model.enformer.eval()" in results["frozen_trunk_stays_fixed_while_the_head_learns"].output


def test_the_reference_keeps_the_frozen_trunk_in_eval_mode_and_trains_the_trunk_at_a_lower_rate(reference):
    from a5kit.kernel_server.probes import dropout_active, manual_seed, tensor_batches

    seen = []
    model = HeadAdapterWrapper(enformer=tiny_enformer(seed=3, target_length=-1), num_tracks=3)
    model.enformer.register_forward_pre_hook(lambda module, args: seen.append(any(dropout_active(module).values())))
    manual_seed(0)
    batches = tensor_batches([q5a_checks.task_data(seed=1, batch=1, length=2048)])
    reference["finetune"](model, batches, 2, 1e-3, freeze_enformer=True)
    assert seen == [False, False]  # the trunk's dropout is off while the head trains
    reference["finetune"](model, batches, 2, 1e-3, freeze_enformer=False)
    assert seen[2:] == [True, True]  # and on when the whole model trains
    captured = {}
    original = torch.optim.Adam

    def spy(groups, *args, **kwargs):
        captured["lrs"] = [g["lr"] for g in groups]
        return original(groups, *args, **kwargs)

    torch.optim.Adam = spy
    try:
        reference["finetune"](model, batches, 1, 1e-3, freeze_enformer=False, trunk_lr=2e-4)
        assert captured["lrs"] == [1e-3, 2e-4]
        reference["finetune"](model, batches, 1, 1e-3, freeze_enformer=False)
        assert captured["lrs"] == [1e-3, 1e-4]  # trunk_lr defaults to lr / 10
    finally:
        torch.optim.Adam = original
    assert finetune_data.TRUNK_LEARNING_RATE < finetune_data.LEARNING_RATE


def test_progress_bars_are_silent_while_the_checks_train(reference, capsys):
    import tqdm as tqdm_module

    made = []
    original = tqdm_module.std.tqdm.__init__

    def finetune(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
        bar = reference["tqdm"](range(steps))
        made.append(bar.disable)
        list(bar)
        return reference["finetune"](model, batches, steps, lr, freeze_enformer, trunk_lr)

    results = grade(with_(reference, finetune=finetune), "q5b")
    assert not failed(results)
    assert made and all(made)  # every bar made during the checks was disabled
    assert "it/s" not in capsys.readouterr().err
    assert tqdm_module.std.tqdm.__init__ is original  # restored after the checks
    assert not reference["tqdm"](range(1), disable=False).disable


def test_evaluate_without_set_target_length_loses_the_public_q5c_case(reference):
    def no_crop(model, X, Y):
        model.eval()
        with torch.no_grad():
            return pearson_per_track(model(torch.as_tensor(X)).numpy(), Y)

    results = grade(with_(reference, evaluate=no_crop), "q5c")
    assert failed(results) == set(results)
    assert "set_target_length(targets.shape[1])" in results["evaluate_gives_pearson_r_per_track"].output


# Attacks from issue 11 (item 7): a loop that does not train must lose q5b's points.


def test_a_finetune_that_adds_noise_to_the_head_and_fabricates_falling_losses_loses_q5b(reference):
    def fake(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
        with torch.no_grad():
            for p in (model.to_tracks if freeze_enformer else model).parameters():
                p.add_(torch.randn_like(p) * 0.05)
        return [2.0 - 0.05 * i for i in range(steps)]

    results = grade(with_(reference, finetune=fake), "q5b")
    assert failed(results) == set(results)  # all of q5b's points
    assert (
        "does not follow the loss's gradient" in results["loss_falls_over_the_steps"].output
    )  # noise is not a gradient step
    assert "Adam" in results["unfrozen_trunk_is_trained_too"].output


def _fit_without_gradients(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
    """Issue 20's fake: never a gradient. The head moves, at most lr per step, toward a least-squares fit of the
    softplus-inverse targets on the trunk's eval-mode embeddings; the trunk gets +-trunk_lr sign noise (what one
    Adam step's sizes look like); the losses are the real eval-mode losses of the head it makes."""
    head = model.to_tracks[0]
    losses = []
    with torch.no_grad():
        model.eval()
        for step in range(steps):
            x, y = batches[step % len(batches)]
            E = model.enformer(x, return_only_embeddings=True).double().numpy().reshape(-1, head.in_features)
            z_target = np.log(np.expm1(np.maximum(y.double().numpy().reshape(-1, head.out_features), 1e-3)))
            A = np.hstack([E, np.ones((len(E), 1))])
            fit = np.linalg.lstsq(A, z_target, rcond=None)[0]
            W, b = head.weight.double().numpy(), head.bias.double().numpy()
            pred = np.logaddexp(0.0, E @ W.T + b)
            losses.append(float(np.mean(pred - y.double().numpy().reshape(pred.shape) * np.log(pred))))
            head.weight.add_(torch.as_tensor(np.clip(fit[:-1].T - W, -lr, lr), dtype=head.weight.dtype))
            head.bias.add_(torch.as_tensor(np.clip(fit[-1] - b, -lr, lr), dtype=head.bias.dtype))
            if not freeze_enformer:
                for p in model.enformer.parameters():
                    p.add_(torch.sign(torch.randn_like(p)) * (lr / 10 if trunk_lr is None else trunk_lr))
    return losses


def test_a_finetune_that_never_computes_a_gradient_loses_both_hidden_cases(reference):
    """Issue 20: a numpy fit of the head plus sign noise on the trunk scored q5b 4/4, then 3/4. The trusted side
    recomputes the head's gradient in numpy, and the build recorded the trunk's gradient signs for a head the grader
    fixes: an Adam step moves the weights against those signs, a fit and sign noise do not."""
    results = grade(with_(reference, finetune=_fit_without_gradients), "q5b")
    assert {"loss_falls_over_the_steps", "unfrozen_trunk_is_trained_too"} <= failed(results)
    assert "does not follow the loss's gradient" in results["loss_falls_over_the_steps"].output
    assert (
        "the trunk's first step does not follow the loss's gradient (5"
        in results["unfrozen_trunk_is_trained_too"].output
    )


def test_the_trunk_gradient_check_passes_whatever_dropout_draws(reference):
    """The reference's unfrozen step trains with dropout on; the recorded signs are of the eval-mode gradient. The check
    holds for other dropout draws than the case's own seed (measured agreement 0.907-0.922; the bar is 0.75)."""
    trunk_case = load_cases("q5b", HIDDEN)
    check = next(c for c in trunk_case if c.func.__name__ == "unfrozen_trunk_is_trained_too").func.__globals__[
        "check_trunk_step_follows_the_gradient"
    ]
    for seed in (1, 2, 3):

        def finetune(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None, seed=seed):
            torch.manual_seed(seed)  # another dropout mask than the case's
            return reference["finetune"](model, batches, steps, lr, freeze_enformer, trunk_lr)

        check(LocalSubmission(with_(reference, finetune=finetune)))


def test_a_finetune_that_replaces_the_parameters_probe_loses_q5b(reference):
    import a5kit.kernel_server.probes as probes

    real = probes.parameters

    def moving(module):
        out = real(module)
        return {
            k: v + 1.0 if k.startswith("to_tracks") or "stem.0." in k or "transformer." in k else v
            for k, v in out.items()
        }

    def attack(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
        probes.parameters = moving  # by name: the bound table does not see it
        with contextlib.suppress(TypeError):
            probes.PROBES["parameters"] = moving  # the table itself: read-only
        return [2.0 - 0.05 * i for i in range(steps)]

    try:
        results = grade(with_(reference, finetune=attack), "q5b")
    finally:
        probes.parameters = real
    assert probes.PROBES["parameters"] is real
    assert {
        "frozen_trunk_stays_fixed_while_the_head_learns",
        "loss_falls_over_the_steps",
        "unfrozen_trunk_is_trained_too",
    } <= failed(results)


def test_kernel_side_runs_a_private_copy_of_the_probes():
    import a5kit.kernel_server.probes as probes
    import a5kit.kernel_server.server as kernel_side

    assert kernel_side._PROBES is not probes and kernel_side._run_probe is not probes.run
    assert set(kernel_side._PROBES.PROBES) == set(probes.PROBES)


def test_the_experiment_reads_out_both_frozen_trunks_to_convergence_and_runs_the_students_finetune(notebook, tiny):
    """Notebook 4's experiment cell, in tiny mode: every row has a held-out r per track inside its interval and a training r."""
    ns: dict = {"__name__": "experiment"}
    for cell in notebook.cells:
        meta = nbmeta.meta(cell)
        if cell.cell_type == "code" and (meta.grade_id in ("setup", "q5-data", "q5-experiment") or meta.solution):
            exec(compile(cell.source.replace("plt.show()", "plt.close('all')"), f"04:{cell.id}", "exec"), ns)
    runs = ns["runs"]
    assert list(runs) == [
        "random trunk, frozen: ridge read-out (control)",
        "pretrained trunk, frozen: ridge read-out",
        "pretrained trunk, frozen: your finetune",
        "whole model: your finetune",
    ]
    for name, run in runs.items():
        r, train = np.asarray(run["test_r"]), np.asarray(run["train_r"])
        assert r.shape == train.shape == (finetune_data.NUM_TRACKS,) and np.all(np.isfinite(r)), name
    for name in list(runs)[:2]:  # the read-outs come with their interval
        r, ci = np.asarray(runs[name]["test_r"]), np.asarray(runs[name]["test_ci"])
        assert (
            ci.shape == (finetune_data.NUM_TRACKS, 2) and np.all(ci[:, 0] <= r + 1e-9) and np.all(r <= ci[:, 1] + 1e-9)
        ), name
    assert len(runs["whole model: your finetune"]["losses"]) == finetune_data.STEPS
    assert runs["random trunk, frozen: ridge read-out (control)"]["losses"] == []


def test_random_trunk_is_the_same_architecture_with_other_weights(tiny):
    model, _ = finetune_data.enformer_for_finetuning()
    state = torch.random.get_rng_state()
    control = finetune_data.random_trunk(model)
    assert torch.equal(state, torch.random.get_rng_state())  # the head drawn next is the same as without the control
    assert type(control) is type(model) and not control.training
    ours, theirs = dict(model.named_parameters()), dict(control.named_parameters())
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    assert not torch.equal(ours["stem.0.weight"], theirs["stem.0.weight"])


def test_q5b_uses_embeddings_and_trunk_gradient_signs_precomputed_at_build_time(reference, tmp_path, monkeypatch):
    from a5kit.checking.core import hidden_module
    from a5kit.grader import precomputed

    written = precomputed.precompute_module(hidden_module("q5b", HIDDEN), tmp_path)
    assert sorted(p.name for p in written) == ["q5b.fall_embeddings.npz", "q5b.trunk_gradient.npz"]
    monkeypatch.setenv("A5KIT_EXPECTED", str(tmp_path))
    results = grade(reference, "q5b")
    assert not failed(results), {n: r.output for n, r in results.items() if not r.passed}


# --- every requirement of the q5 task texts has a public case that names the mistake (issue 14, item 4) ---


def _mistakes(reference):
    import copy

    def dropout_on(model, batches, steps, lr, freeze_enformer=True, trunk_lr=None):
        losses = reference["finetune"](model, batches, 0, lr, freeze_enformer, trunk_lr)
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        model.train()
        for step in range(steps):
            sequence, target = batches[step % len(batches)]
            optimizer.zero_grad()
            loss = model(sequence, target=target, freeze_enformer=freeze_enformer)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    def no_crop(model, X, Y):
        model.eval()
        with torch.no_grad():
            return pearson_per_track(model(torch.as_tensor(X)).numpy(), Y)

    def train_mode(model, X, Y):
        model.train()
        model.enformer.set_target_length(Y.shape[1])
        with torch.no_grad():
            return pearson_per_track(model(torch.as_tensor(X)).numpy(), Y)

    def pooled_wrong(model, X, Y):
        P = _predictions(model, X, Y)
        return np.mean([pearson_per_track(p, y) for p, y in zip(P, Y)], axis=0)

    return {
        # (question, sentence of the task text): (function name, mistaken implementation, public case, message fragment)
        ("q5a", "Returns an **`enformer_pytorch.finetune.HeadAdapterWrapper`**"): (
            "make_head_adapter",
            lambda enformer, num_tracks: enformer,
            "adapter_predicts_batch_by_bins_by_tracks",
            "HeadAdapterWrapper",
        ),
        ("q5a", "wraps **this** `enformer` (not a\n  copy"): (
            "make_head_adapter",
            lambda e, n: HeadAdapterWrapper(enformer=copy.deepcopy(e), num_tracks=n),
            "adapter_predicts_batch_by_bins_by_tracks",
            "copy.deepcopy",
        ),
        ("q5a", "with a new head of `num_tracks` outputs"): (
            "make_head_adapter",
            lambda e, n: HeadAdapterWrapper(enformer=e, num_tracks=1),
            "adapter_predicts_batch_by_bins_by_tracks",
            "num_tracks",
        ),
        ("q5a", "then a softplus"): (
            "make_head_adapter",
            lambda e, n: HeadAdapterWrapper(enformer=e, num_tracks=n, output_activation=None),
            "adapter_predicts_batch_by_bins_by_tracks",
            "softplus",
        ),
        ("q5b", "Runs exactly `steps` optimisation steps"): (
            "finetune",
            make_finetune(one_pass=True),
            "finetune_returns_one_float_loss_per_step",
            "one loss per optimisation step",
        ),
        ("q5b", "**two parameter groups**"): (
            "finetune",
            make_finetune(head_only=True),
            "finetune_returns_one_float_loss_per_step",
            "parameter group",
        ),
        ("q5b", "the trunk's weights must not change"): (
            "finetune",
            make_finetune(pass_freeze=False),
            "frozen_trunk_stays_fixed_while_the_head_learns",
            "trunk weights changed",
        ),
        ("q5b", "runs in **evaluation mode**"): (
            "finetune",
            dropout_on,
            "frozen_trunk_stays_fixed_while_the_head_learns",
            "model.enformer.eval()",
        ),
        ("q5b", "`freeze_enformer=False` trains the whole model in\n  training mode (dropout on)"): (
            "finetune",
            make_finetune(trunk_always_eval=True),
            "finetune_returns_one_float_loss_per_step",
            "model.train()",
        ),
        ("q5b", "**a list of `steps` Python floats**"): (
            "finetune",
            make_finetune(as_tensors=True),
            "finetune_returns_one_float_loss_per_step",
            "loss.item()",
        ),
        ("q5b", "model(sequence, target=target, freeze_enformer=freeze_enformer)"): (
            "finetune",
            make_finetune(step=False),
            "frozen_trunk_stays_fixed_while_the_head_learns",
            "optimizer.step()",
        ),
        ("q5c", "**in evaluation mode**"): (
            "evaluate",
            train_mode,
            "evaluate_gives_pearson_r_per_track",
            "model.eval()",
        ),
        ("q5c", "model.enformer.set_target_length(targets.shape[1])"): (
            "evaluate",
            no_crop,
            "evaluate_gives_pearson_r_per_track",
            "set_target_length(targets.shape[1])",
        ),
        ("q5c", "**all bins of all windows pooled**"): (
            "evaluate",
            pooled_wrong,
            "evaluate_gives_pearson_r_per_track",
            "pool all bins",
        ),
    }


def test_every_q5_requirement_has_a_public_case_naming_the_mistake(reference, notebook):
    tasks = {grade_id: cell.source for grade_id, cell in nbmeta.by_grade_id(notebook).items()}
    public = {q: {c.func.__name__ for c in load_cases(q) if not c.hidden} for q in QUESTIONS}
    for (question, sentence), (name, wrong, case_name, fragment) in _mistakes(reference).items():
        assert sentence in tasks[f"{question}-task"], (question, sentence)
        assert case_name in public[question], case_name
        results = grade(with_(reference, **{name: wrong}), question)
        assert case_name in failed(results), (question, sentence)
        assert fragment in results[case_name].output, (question, sentence, results[case_name].output)
