"""The `tensorgrad` command: train / evaluate / predict on the embedded sample, and clear errors."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.training.checkpoint import load_checkpoint
from tensorgrad.training.cli import main


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_recipes_lists_every_document(capsys):
    status, out, _ = run(capsys, "recipes")
    assert status == 0
    for name in ("doc000", "doc001", "doc002", "doc003-binary", "doc003-lbfgs", "doc003-cnn", "doc004",
                 "best-mlp", "best-cnn", "bn-mlp", "resnet-cnn", "fast-mlp", "fast-cnn"):
        assert name in out


def test_document_003s_cnn_can_be_trained_exactly_as_the_document_ran_it():
    from tensorgrad.models.recipes import RECIPES, make_optimizer, make_scheduler

    original, tuned = RECIPES["doc003-cnn-original"], RECIPES["doc003-cnn"]
    model = original.build()
    assert model.num_parameters() == tuned.build().num_parameters() == 1_199_882  # the document's summary()
    optimizer = make_optimizer(original, model, lr=None, name=original.optimizer)
    assert type(optimizer).__name__ == "Adadelta"
    assert {k: optimizer.param_groups[0][k] for k in ("lr", "rho", "eps")} == {"lr": 1e-3, "rho": 0.95, "eps": 1e-7}
    assert make_scheduler(original, optimizer) is None and not original.standardize  # pixels /255 only
    assert (original.epochs, original.batch_size) == (5, 128)


def test_train_evaluate_predict_round_trip(tmp_path, capsys):
    out_dir = tmp_path / "run"
    status, out, _ = run(capsys, "train", "--recipe", "best-mlp", "--epochs", "1", "--no-progress",
                         "--out", str(out_dir), "--seed", "3", "--safetensors")
    assert status == 0
    assert "test accuracy" in out and "model.safetensors" in out
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.85  # one epoch on the 10,000-image sample
    history = json.loads((out_dir / "history.json").read_text())
    assert len(history["loss"]) == 1 and "val_accuracy" in history
    arrays, meta = load_checkpoint(out_dir / "model.npz")
    assert meta["recipe"] == "best-mlp" and "model.0.weight" in arrays
    weights, header = tg.load_safetensors(str(out_dir / "model.safetensors"), with_metadata=True)
    assert header["recipe"] == "best-mlp" and set(weights) == {k[len("model."):] for k in arrays if k.startswith("model.")}
    np.testing.assert_array_equal(weights["0.weight"], arrays["model.0.weight"])
    for plot in ("history.png", "confusion_matrix.png", "predictions.png"):
        assert (out_dir / plot).stat().st_size > 1000

    status, out, _ = run(capsys, "evaluate", "--checkpoint", str(out_dir / "model.npz"))
    assert status == 0 and f"test accuracy {metrics['test_accuracy']:.4f}" in out
    assert "macro avg" in out

    csv_path = tmp_path / "output.csv"
    status, out, _ = run(capsys, "predict", "--checkpoint", str(out_dir / "model.npz"), "--csv", str(csv_path))
    assert status == 0
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == ["ImageId", "Label"] and rows[1][0] == "1" and len(rows) == 2001
    assert all(0 <= int(label) <= 9 for _, label in rows[1:])


def test_binary_recipe_trains_full_batch(tmp_path, capsys):
    status, out, _ = run(capsys, "train", "--recipe", "doc003-binary", "--no-progress", "--no-plots",
                         "--out", str(tmp_path))
    assert status == 0
    assert json.loads((tmp_path / "metrics.json").read_text())["test_accuracy"] > 0.95


def test_train_runs_on_the_threads_asked_for_and_restores_the_count(tmp_path, capsys, monkeypatch):
    import tensorgrad as tg
    from tensorgrad.training.loop import fit

    seen = []
    monkeypatch.setattr("tensorgrad.training.loop.fit", lambda *a, **k: seen.append(tg.get_num_threads()) or fit(*a, **k))
    status, _, _ = run(capsys, "train", "--recipe", "doc003-binary", "--no-progress", "--no-plots",
                       "--threads", "2", "--out", str(tmp_path))
    assert status == 0 and seen == [2] and tg.get_num_threads() == 1
    assert json.loads((tmp_path / "metrics.json").read_text())["test_accuracy"] > 0.95


def test_evaluate_and_predict_run_on_the_threads_asked_for(tmp_path, capsys, monkeypatch):
    import tensorgrad as tg
    from tensorgrad.training import loop as train

    assert run(capsys, "train", "--recipe", "doc003-binary", "--no-progress", "--no-plots",
               "--out", str(tmp_path))[0] == 0
    seen = []
    real_predict = train.predict
    monkeypatch.setattr(train, "predict", lambda *a, **k: seen.append(tg.get_num_threads()) or real_predict(*a, **k))
    checkpoint = str(tmp_path / "model.npz")
    assert run(capsys, "evaluate", "--checkpoint", checkpoint, "--threads", "2")[0] == 0
    assert run(capsys, "predict", "--checkpoint", checkpoint, "--csv", str(tmp_path / "p.csv"))[0] == 0
    assert seen == [2, 1] and tg.get_num_threads() == 1  # asked for 2; auto for this MLP: 1


def test_automatic_threads_are_every_cpu_for_a_cnn_and_tensorgrads_choice_for_an_mlp(monkeypatch):
    from tensorgrad import parallel
    from tensorgrad.training import cli

    assert 1 <= parallel.usable_cpus() <= (os.cpu_count() or 1)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 6)
    recipes = cli._recipes()
    assert cli._thread_count("auto", recipes["doc003-cnn"].build()) == 6
    assert cli._thread_count("auto", recipes["best-cnn"].build()) == 6
    assert cli._thread_count("auto", recipes["doc004"].build()) == "auto"  # BLAS's threads, fewer when busy
    assert cli._thread_count("auto", recipes["doc003-binary"].build()) == "auto"
    assert cli._thread_count(3, recipes["doc004"].build()) == 3
    assert cli._thread_count(7, recipes["doc004"].build()) == 7  # asked for: done, with a note


def test_more_threads_than_cpus_get_a_note(capsys, monkeypatch):
    from tensorgrad import parallel
    from tensorgrad.training import cli
    from tensorgrad.models.recipes import RECIPES

    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    assert cli._thread_count(64, RECIPES["doc004"].build()) == 64
    assert "--threads 64 on 2 usable CPUs" in capsys.readouterr().out
    assert cli._thread_count(2, RECIPES["doc004"].build()) == 2 and capsys.readouterr().out == ""


@pytest.mark.parametrize("argv, message", [
    (["train", "--threads", "0"], "argument --threads: must be positive, got 0"),
    (["train", "--threads", "many"], "argument --threads: 'many' is not a whole number"),
    (["evaluate", "--checkpoint", "x.npz", "--threads", "0"], "argument --threads: must be positive, got 0"),
    (["train", "--recipe", "nope"], "unknown recipe 'nope'; choose one of: doc000"),
    (["train", "--epochs", "0"], "argument --epochs: must be positive, got 0"),
    (["train", "--epochs", "many"], "argument --epochs: 'many' is not a whole number"),
    (["train", "--lr", "-1"], "argument --lr: must be positive"),
    (["train", "--optimizer", "magic"], "unknown optimizer 'magic'"),
    (["train", "--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["evaluate", "--checkpoint", "/no/such/file.npz"], "/no/such/file.npz"),
    ([], "the following arguments are required: command"),
    (["train", "--seed", "-1"], "train: argument --seed: must be 0 or more, got -1"),
    (["audit", "--seed", "x"], "audit: argument --seed: 'x' is not a whole number"),
    (["train", "--dataset", "mnist", "--data-dir", "/no/such/folder"], "--data-dir '/no/such/folder' is not a folder"),
    (["train", "--resume", "x.npz", "--lr", "0.5"], "--lr and --optimizer cannot change them"),
    (["train", "--out", "/dev/null/run"], "--out '/dev/null/run': cannot write there"),
    (["train", "--epohcs", "3"],
     "tensorgrad: error: train: unrecognized arguments: --epohcs 3; did you mean --epochs? (see tensorgrad train --help)"),
    (["train", "--batchsize=32", "--lrr", "0.1"],
     "train: unrecognized arguments: --batchsize=32 --lrr 0.1; did you mean --batch-size for --batchsize, --lr for --lrr?"),
    (["audit", "--jsn"], "audit: unrecognized arguments: --jsn; did you mean --json? (see tensorgrad audit --help)"),
    (["train", "--frobnicate"], "train: unrecognized arguments: --frobnicate (see tensorgrad train --help)"),
    (["audit", "--lang", "fr"], "audit: argument --lang: invalid choice: 'fr'"),
])
def test_bad_arguments_give_one_line_and_status_2(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_dataset_gives_one_line_saying_where_it_looked(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TENSORGRAD_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "nowhere").mkdir()  # a folder without the files (a missing folder: next test)
    status, _, err = run(capsys, "train", "--dataset", "mnist", "--data-dir", str(tmp_path / "nowhere"))
    assert status == 2 and err.count("\n") == 1
    assert str(tmp_path / "nowhere") in err and "download" in err


@pytest.mark.parametrize("dataset, data_dir", [("mnist", True), ("mnist", False), ("fashion-mnist", False)])
def test_missing_dataset_gives_the_commands_flags_not_pythons_arguments(tmp_path, capsys, monkeypatch,
                                                                         dataset, data_dir):
    monkeypatch.delenv("TENSORGRAD_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "nowhere").mkdir()
    extra = ["--data-dir", str(tmp_path / "nowhere")] if data_dir else []
    status, _, err = run(capsys, "train", "--dataset", dataset, *extra)
    assert status == 2 and err.count("\n") == 1
    title = "MNIST" if dataset == "mnist" else "Fashion-MNIST"
    assert err.startswith(f"tensorgrad: error: {dataset}: {title} not found. Looked for train-images-idx3-ubyte")
    assert str(tmp_path / "home" / ".cache" / "tensorgrad" / dataset) in err  # where it looked
    assert "--data-dir DIR" in err and "--download" in err and "--dataset sample" in err
    target = tmp_path / "nowhere" / dataset if data_dir else tmp_path / "home" / ".cache" / "tensorgrad" / dataset
    assert f"add --download to download them into {target}" in err
    for python in ("download=True", "root=", "into root/", "load_mnist", "load_fashion_mnist"):
        assert python not in err
    assert ("apt install dataset-fashion-mnist" in err) == (dataset == "fashion-mnist")


def test_an_abbreviated_option_is_still_taken(capsys, monkeypatch):
    """argparse takes a unique prefix of an option (``--epoch 3`` is --epochs 3): only an option that
    matches none is an error, with the closest one suggested."""
    from tensorgrad.training.cli import build_parser

    assert build_parser().parse_args(["train", "--epoch", "3"]).epochs == 3


def test_train_says_what_was_changed_from_the_recipe(tmp_path, capsys):
    status, out, _ = run(capsys, "train", "--epochs", "1", "--lr", "0.02", "--no-progress", "--no-plots",
                         "--out", str(tmp_path))
    assert status == 0 and "5 epochs" in out  # the recipe's summary ...
    assert "changed from the recipe: --epochs 1, --lr 0.02" in out  # ... and what this run does instead


def test_messages_do_not_repeat_the_program_name(capsys):
    _, _, err = run(capsys, "train", "--epochs", "0")
    assert err.startswith("tensorgrad: error: train: argument --epochs") and err.count("tensorgrad:") == 1


def test_files_that_cannot_be_written_or_read_are_one_line_naming_them(tmp_path, capsys):
    checkpoint = tmp_path / "run" / "model.npz"
    assert run(capsys, "train", "--epochs", "1", "--no-progress", "--no-plots", "--out", str(checkpoint.parent))[0] == 0
    for csv_path, words in ((tmp_path / "no" / "out.csv", "No such file or directory"), (tmp_path, "Is a directory")):
        status, _, err = run(capsys, "predict", "--checkpoint", str(checkpoint), "--csv", str(csv_path))
        assert status == 1 and err.count("\n") == 1 and words in err and str(csv_path) in err
        assert ".tmp" not in err  # the user's path, not the temporary file's
    status, _, err = run(capsys, "predict", "--checkpoint", str(checkpoint), "--csv", str(checkpoint))
    assert status == 2 and "is the checkpoint itself" in err and load_checkpoint(checkpoint)  # still intact
    status, _, err = run(capsys, "graph", "-o", str(tmp_path / "no" / "graph.svg"))
    assert status == 1 and err.count("\n") == 1 and "No such file or directory" in err
    readme = tmp_path / "notes.txt"
    readme.write_text("not a checkpoint")
    status, _, err = run(capsys, "evaluate", "--checkpoint", str(readme))
    assert status == 2 and "not a checkpoint" in err and "unsafely" not in err
    plain = tmp_path / "plain.npz"
    np.savez(plain, w=np.zeros(3))
    status, _, err = run(capsys, "evaluate", "--checkpoint", str(plain))
    assert status == 2 and "its metadata names no recipe" in err


def test_a_new_run_replaces_the_earlier_run_in_its_folder_whole(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert run(capsys, "train", "--recipe", "doc003-binary", "--no-progress", "--out", str(out_dir))[0] == 0
    assert (out_dir / "confusion_matrix.png").exists()
    status, out, _ = run(capsys, "train", "--epochs", "1", "--no-progress", "--no-plots", "--out", str(out_dir))
    assert status == 0 and f"replacing the earlier run in {out_dir}" in out
    assert json.loads((out_dir / "metrics.json").read_text())["recipe"] == "doc004"
    assert not (out_dir / "confusion_matrix.png").exists()  # no plot of the other run left beside it


def test_resume_refuses_a_checkpoint_already_at_the_last_epoch(tmp_path, capsys):
    first = tmp_path / "first"
    assert run(capsys, "train", "--epochs", "1", "--no-progress", "--no-plots", "--out", str(first))[0] == 0
    status, out, err = run(capsys, "train", "--epochs", "1", "--resume", str(first / "model.npz"),
                           "--no-progress", "--no-plots", "--out", str(tmp_path / "second"))
    assert status == 2 and "already at epoch 1 of 1; pass --epochs N with N > 1" in err
    assert "saved" not in out  # it used to say it saved a model it never wrote


def test_evaluate_and_predict_default_to_the_dataset_the_checkpoint_was_trained_on(tmp_path, capsys, monkeypatch):
    from tensorgrad.training import checkpoint as checkpoints

    run_dir = tmp_path / "run"
    assert run(capsys, "train", "--epochs", "1", "--no-progress", "--no-plots", "--out", str(run_dir))[0] == 0
    arrays, meta = load_checkpoint(run_dir / "model.npz")
    checkpoints.save_checkpoint(run_dir / "mnist.npz", arrays, {**meta, "dataset": "mnist"})
    monkeypatch.setenv("TENSORGRAD_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    status, _, err = run(capsys, "evaluate", "--checkpoint", str(run_dir / "mnist.npz"))
    assert status == 2 and err.startswith("tensorgrad: error: mnist: MNIST not found")  # MNIST, not the sample
    status, out, _ = run(capsys, "evaluate", "--checkpoint", str(run_dir / "mnist.npz"), "--dataset", "sample")
    assert status == 0 and "sample: 2000 test images" in out


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    status, _, err = run(capsys, "evaluate", "--checkpoint", str(bad))
    assert status == 2 and str(bad) in err and err.count("\n") == 1


def test_python_dash_m_runs_the_same_command():
    result = subprocess.run([sys.executable, "-m", "tensorgrad", "recipes"], capture_output=True, text=True)
    assert result.returncode == 0 and "doc004" in result.stdout
    result = subprocess.run([sys.executable, "-m", "tensorgrad", "train", "--recipe", "x"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("tensorgrad: error: unknown recipe")


def test_audit_json_rows(capsys):
    status, out, _ = run(capsys, "audit", "--json")
    assert status == 0
    rows = json.loads(out)
    assert {tuple(sorted(r)) for r in rows} == {("diagnosis", "document", "max_rel_err", "parameter", "quote", "status")}
    doc002 = {r["parameter"]: r for r in rows if r["document"] == "doc002"}
    assert doc002["W1"]["status"] == "mismatch" and "x64" in doc002["W1"]["diagnosis"]
    assert doc002["W1"]["quote"]["line"] == "dw1 = dz1 @ x" and doc002["W2"]["quote"] is None
    status, out, _ = run(capsys, "audit", "--json", "--lang", "es")
    doc003 = {r["parameter"]: r for r in json.loads(out) if r["document"] == "doc003"}
    assert status == 0 and doc003["W1"]["diagnosis"].startswith("usa la derivada de tanh")
    assert doc003["W1"]["quote"]["line"] == "dZ1 = np.dot(params['W2'].T, dZ2)*(1-np.power(activations['A1'], 2))"


def test_audit_quotes_the_documents_lines_in_english_or_in_spanish(capsys):
    status, out, _ = run(capsys, "audit")
    assert status == 0 and out.startswith("document  parameter  status")
    assert "What the audit finds, in the documents' own lines:" in out
    assert "\n    dw1 = dz1 @ x\n" in out and "\n    db1 = np.sum(dz1, axis=1, keepdims=True)\n" in out
    assert "*(1-np.power(activations['A1'], 2))" in out

    status, out, _ = run(capsys, "audit", "--lang", "es")
    assert status == 0 and out.startswith("documento  parámetro  estado")
    assert "Lo que encuentra la auditoría, en las líneas de los propios documentos:" in out
    assert "\n    dw1 = dz1 @ x\n  le falta el / batch_size" in out
    assert "no coincide" in out and "sin gradiente a mano" in out and "la derivada de tanh" in out
    assert "mismatch" not in out and "What the audit finds" not in out and "hand gradient" not in out


@pytest.mark.parametrize("argv", [["audit", "--json"], ["audit"], ["recipes"]])
def test_output_into_a_pipe_closed_early_ends_quietly(argv):
    """`tensorgrad audit --json | head -1`: the reader leaves before the writing ends; no "Broken pipe",
    no traceback, status 0."""
    command = [sys.executable, "-m", "tensorgrad", *argv]
    # a reader gone before anything is written: the first write fails, every time
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0 and err == ""
    # and the real pipeline: head reads one line and exits
    producer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.run(["head", "-1"], stdin=producer.stdout, capture_output=True, text=True, timeout=120)
    producer.stdout.close()
    err = producer.stderr.read().decode()
    assert producer.wait(timeout=120) == 0 and err == ""
    assert head.stdout.count("\n") == 1


def test_graph_is_drawn_after_one_backward_pass_and_takes_a_batch_size(tmp_path, capsys):
    status, out, _ = run(capsys, "graph", "--recipe", "doc004", "--batch-size", "3", "-o", str(tmp_path / "g.dot"))
    assert status == 0 and "wrote" in out
    dot = (tmp_path / "g.dot").read_text()
    assert "grad: " in dot  # the parameters' gradients, on the graph
    assert "(3, 784)" in dot and "(3, 10)" in dot  # a batch of 3
    status, _, err = run(capsys, "graph", "--batch-size", "0", "-o", str(tmp_path / "g.dot"))
    assert status == 2 and "argument --batch-size: must be positive" in err


def test_graph_and_trace_commands(tmp_path, capsys):
    status, out, _ = run(capsys, "graph", "--recipe", "doc003-cnn", "-o", str(tmp_path / "cnn.svg"), "--collapse")
    assert status == 0 and "<svg" in (tmp_path / "cnn.svg").read_text()
    status, out, _ = run(capsys, "trace", "--recipe", "doc004")
    assert status == 0
    assert "cross_entropy" in out and "∂logits = (softmax(logits) − t)" in out and "4 backward steps" in out


def test_a_standardizing_recipe_keeps_its_training_statistics_with_the_model(tmp_path, capsys):
    from dataclasses import replace

    from tensorgrad import data as datasets
    from tensorgrad import manual_seed
    from tensorgrad.training.checkpoint import save_checkpoint
    from tensorgrad.models.recipes import RECIPES, prepare_data
    from tensorgrad.training.loop import evaluate

    recipe, split = RECIPES["doc003-cnn"], datasets.load_mnist_sample()
    assert recipe.standardize
    data = prepare_data(recipe, split)
    raw = prepare_data(replace(recipe, standardize=False), split)
    mean, std = data.input_mean_std
    assert 0.1 < mean < 0.2 and 0.25 < std < 0.35  # MNIST's pixels /255: 0.13 and 0.31
    assert abs(float(data.x_train.mean())) < 1e-4 and abs(float(data.x_train.std()) - 1) < 1e-3
    np.testing.assert_allclose(data.x_test, (raw.x_test - mean) / std, rtol=1e-5, atol=1e-5)

    # evaluate and predict standardize with the statistics stored in the checkpoint
    manual_seed(0)
    model = recipe.build()
    stored = (0.5, 2.0)
    arrays = {f"model.{k}": v for k, v in model.state_dict().items()}
    save_checkpoint(tmp_path / "model.npz", arrays, {"recipe": "doc003-cnn", "input_mean_std": stored})
    status, out, _ = run(capsys, "evaluate", "--checkpoint", str(tmp_path / "model.npz"))
    expected = evaluate(model, prepare_data(recipe, split, stored).x_test, data.y_test)
    assert status == 0 and f"loss {expected['loss']:.4f}" in out
