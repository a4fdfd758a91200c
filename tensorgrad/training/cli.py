"""The ``tensorgrad`` command: train, evaluate and predict with the documents' recipes.

    tensorgrad train --recipe doc004                    # on the embedded MNIST sample
    tensorgrad train --recipe best-cnn --dataset mnist --data-dir ~/data
    tensorgrad evaluate --checkpoint runs/doc004-sample/model.npz
    tensorgrad predict --checkpoint runs/doc004-sample/model.npz --csv output.csv
    tensorgrad export --checkpoint runs/doc004-sample/model.npz -o doc004.onnx
    tensorgrad recipes
    tensorgrad audit --lang es                          # the documents' gradient mistakes, in Spanish

Errors (bad arguments, missing data, a corrupt checkpoint) print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

DATASETS = ("sample", "mnist", "fashion-mnist")


class UsageError(Exception):
    """A problem the user can fix: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        command = self.prog.partition(" ")[2]  # main() prints "tensorgrad: error: " before it
        raise UsageError(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> argparse.Namespace:
        """argparse's own, except for arguments no option takes: they are the command's error (so
        the message points to ``tensorgrad train --help``), with the closest valid option for a
        mistyped one (``--epohcs 3``: did you mean --epochs?)."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = getattr(self, "commands", {}).get(getattr(parsed, "command", None), self)
            command.error(f"unrecognized arguments: {' '.join(extras)}{_suggest_options(command, extras)}")
        return parsed


def _suggest_options(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str:
    """"; did you mean --epochs?" for the unknown options among ``extras`` close to a valid one."""
    options = [option for action in parser._actions for option in action.option_strings if option.startswith("--")]
    pairs = []
    for extra in extras:
        flag = extra.partition("=")[0]
        if flag.startswith("-") and flag not in options:
            close = difflib.get_close_matches(flag if flag.startswith("--") else "-" + flag, options, n=1, cutoff=0.6)
            if close:
                pairs.append((flag, close[0]))
    if not pairs:
        return ""
    if len(pairs) == 1:
        return f"; did you mean {pairs[0][1]}?"
    return "; did you mean " + ", ".join(f"{match} for {flag}" for flag, match in pairs) + "?"


def _recipes():
    from tensorgrad.models.recipes import RECIPES
    return RECIPES


def _recipe(name: str):
    recipes = _recipes()
    if name not in recipes:
        raise UsageError(f"unknown recipe {name!r}; choose one of: {', '.join(recipes)}")
    return recipes[name]


def _load_split(dataset: str, data_dir: str | None, download: bool):
    from tensorgrad import data

    if dataset == "sample":
        if data_dir or download:
            print("(--data-dir and --download are for --dataset mnist or fashion-mnist; the sample is built in)")
        return data.load_mnist_sample()
    if data_dir and not download and not Path(data_dir).is_dir():  # (a download may make it)
        raise UsageError(f"--data-dir {data_dir!r} is not a folder (add --download to fetch {dataset} into it)")
    loader = data.load_mnist if dataset == "mnist" else data.load_fashion_mnist
    try:
        return loader(data_dir, download=download)
    except data.DatasetNotFoundError as err:  # its advice is for Python (download=True, root=): give the flags
        message = _not_found_for_the_command(str(err), dataset, data_dir)
        raise UsageError(f"{dataset}: " + " ".join(message.split())) from None
    except (data.DownloadError, data.IDXFormatError, ValueError, TypeError) as err:
        # also the files' contents: image and label counts that differ, labels that are not 1-D ...
        raise UsageError(f"{dataset}: " + " ".join(str(err).split())) from None


def _not_found_for_the_command(message: str, dataset: str, data_dir: str | None) -> str:
    """A dataset-not-found message from ``load_mnist`` with the command's flags as its advice: where it
    looked (the message's first part, without the Python function's name), then --data-dir and
    --download instead of ``root=`` and ``download=True``."""
    from tensorgrad.data import datasets
    from tensorgrad.data.download import default_cache_dir

    looked = message.split(datasets._REMEDIES_HEADING)[0]
    looked = re.sub(r"^load_\w+: ", "", looked)  # the Python function's name
    target = (Path(data_dir).expanduser() / dataset if data_dir
              else f"{default_cache_dir(dataset)} (DIR/{dataset} with --data-dir DIR)")
    ways = [f"pass --data-dir DIR, a folder with the four files (or a {dataset}/ subfolder holding them)",
            f"add --download to download them into {target}",
            f"set ${datasets.DATA_DIR_ENV} to a folder holding them"]
    if dataset in datasets._INSTALL_HINTS:
        ways.append(datasets._INSTALL_HINTS[dataset])
    return (looked.rstrip(". ") + ". To get the data: " + "; or ".join(ways)
            + ". Or use the MNIST sample built into tensorgrad: --dataset sample.")


def _prepare(recipe: Any, split: Any, input_mean_std: Any = None) -> Any:
    """The recipe's data from a loaded split; a split that does not fit the recipe is a one-line error."""
    from tensorgrad.models.recipes import prepare_data

    try:
        data = prepare_data(recipe, split, input_mean_std)
    except (ValueError, TypeError) as err:
        raise UsageError(" ".join(str(err).split())) from None
    for name, images in (("training", data.x_train), ("test", data.x_test)):
        if not len(images):
            raise UsageError(f"the {name} set is empty")
    return data


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tensorgrad", description="Train and inspect the course documents' models.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    parser.commands = commands.choices  # name -> its parser, for the error of an unknown option

    def threads_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--threads", type=_threads, default="auto",
                       help="run convolutions and large matrix products on this many threads of tensorgrad's "
                            "own (tensorgrad.set_num_threads); default auto: every CPU for a model with "
                            "convolutions; otherwise serial, BLAS on its own threads while the machine is quiet "
                            "and on one while other programs keep it busy")

    def data_options(p: argparse.ArgumentParser, default: str | None = "sample") -> None:
        p.add_argument("--dataset", choices=DATASETS, default=default,
                       help="sample: the MNIST subset shipped with tensorgrad (default)" if default else
                            "default: the dataset the checkpoint was trained on")
        p.add_argument("--data-dir", help="folder with the IDX files (else $TENSORGRAD_DATA, ~/.cache/tensorgrad, ...)")
        p.add_argument("--download", action="store_true", help="download the dataset if it is not found")

    train = commands.add_parser("train", help="train a recipe and save the model, history and plots")
    train.add_argument("--recipe", default="doc004", help="a recipe name (see `tensorgrad recipes`; default doc004)")
    data_options(train)
    train.add_argument("--epochs", type=_positive_int, help="override the recipe's epochs")
    train.add_argument("--batch-size", type=_positive_int, help="override the recipe's batch size")
    train.add_argument("--lr", type=_positive_float, help="override the recipe's learning rate")
    train.add_argument("--optimizer", help="override the recipe's optimizer (sgd, adam, adadelta, ...)")
    train.add_argument("--seed", type=_seed, default=0)
    train.add_argument("--out", help="output folder (default runs/RECIPE-DATASET)")
    train.add_argument("--resume", help="continue from a model.npz written by an earlier (interrupted) run")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--no-plots", action="store_true", help="do not draw plots")
    train.add_argument("--safetensors", action="store_true",
                       help="also write the trained weights as model.safetensors (for PyTorch, JAX, Hugging Face)")
    threads_option(train)

    evaluate = commands.add_parser("evaluate", help="test accuracy and classification report of a saved model")
    evaluate.add_argument("--checkpoint", required=True)
    data_options(evaluate, default=None)
    threads_option(evaluate)

    predict = commands.add_parser("predict", help="write the predicted test labels as CSV (ImageId,Label)")
    predict.add_argument("--checkpoint", required=True)
    predict.add_argument("--csv", required=True, help="output CSV path")
    data_options(predict, default=None)
    threads_option(predict)

    export = commands.add_parser("export", help="write a saved model as an ONNX file (for onnxruntime and others)")
    export.add_argument("--checkpoint", required=True)
    export.add_argument("-o", "--output", required=True, help="output .onnx file")
    export.add_argument("--opset", type=_positive_int, default=17,
                        help="the ONNX opset to write (13 or more; default 17)")
    export.add_argument("--static-batch", action="store_true",
                        help="fix the batch size at 1 (by default the batch axis is dynamic: any batch size runs)")

    commands.add_parser("recipes", help="list the recipes")

    audit = commands.add_parser("audit", help="check each document's hand-derived gradients against autograd")
    audit.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    audit.add_argument("--lang", choices=("en", "es"), default="en",
                       help="language of the table and the findings: en (English, default) or es (español)")
    audit.add_argument("--seed", type=_seed, default=0)

    graph = commands.add_parser("graph", help="draw a recipe's model and loss as a graph (SVG, PNG or DOT)")
    graph.add_argument("--recipe", default="doc004")
    graph.add_argument("-o", "--output", required=True, help="output file: .svg, .png or .dot")
    graph.add_argument("--batch-size", type=_positive_int, default=None,
                       help="images in the batch drawn (default: the recipe's batch size, at most 8)")
    graph.add_argument("--collapse", action="store_true", help="fold each module into one node")
    graph.add_argument("--fused", action="store_true", help=FUSED_HELP)

    trace = commands.add_parser("trace", help="print the backward trace of one training step of a recipe")
    trace.add_argument("--recipe", default="doc004")
    trace.add_argument("--batch-size", type=_positive_int, default=None)
    trace.add_argument("--markdown", action="store_true")
    trace.add_argument("--fused", action="store_true", help=FUSED_HELP)
    return parser


def _positive(kind: type, noun: str, zero_ok: bool = False):
    """An argparse type: text -> a positive ``kind`` (int or float; or 0 too), else a one-line error."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not (value >= 0 if zero_ok else value > 0):
            raise argparse.ArgumentTypeError(f"must be {'0 or more' if zero_ok else 'positive'}, got {value}")
        return value
    return parse


_positive_int = _positive(int, "a whole number")
_positive_float = _positive(float, "a number")
_seed = _positive(int, "a whole number", zero_ok=True)  # what NumPy's generators take


def _threads(text: str) -> int | str:
    """An argparse type: 'auto' or a positive whole number."""
    return "auto" if text == "auto" else _positive_int(text)


def _thread_count(threads: int | str, model: Any) -> int | str:
    """--threads for set_num_threads: 'auto' is every usable CPU for a model with a convolution
    (measured on 2 cores: a CNN epoch 0.70 of its serial time), else "auto" (serial, BLAS on its
    own threads while the machine is quiet and on one while it is busy; an MLP step at batch 128
    is 1.2x slower on tensorgrad's threads)."""
    from tensorgrad import nn
    from tensorgrad.speed.parallel import usable_cpus

    cpus = usable_cpus()
    if threads != "auto":
        if int(threads) > cpus:
            print(f"(--threads {threads} on {cpus} usable CPUs: threads beyond the CPUs only take turns)")
        return int(threads)

    convolutional = any(isinstance(module, nn.Conv2d) for module in model.modules())
    return cpus if convolutional else "auto"


# ----------------------------------------------------------------------------------- commands
def cmd_recipes(args: argparse.Namespace) -> int:
    for name, recipe in _recipes().items():
        print(f"{name:14} document {recipe.document:3}  {recipe.summary}")
        if recipe.reported:
            print(f"{'':14} reported: {recipe.reported}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tensorgrad import manual_seed
    from tensorgrad.speed.parallel import num_threads

    recipe = _recipe(args.recipe)
    if args.optimizer and args.optimizer not in ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "lbfgs"):
        raise UsageError(f"unknown optimizer {args.optimizer!r}; choose sgd, adam, adamw, rmsprop, adagrad, adadelta or lbfgs")
    if args.resume and (args.lr or args.optimizer):
        raise UsageError("--resume continues the saved run with its own optimizer, learning rate and state; "
                         "--lr and --optimizer cannot change them (start a new run to change them)")
    recipe = replace(recipe, epochs=args.epochs or recipe.epochs,
                     batch_size=args.batch_size or recipe.batch_size)
    data = _prepare(recipe, _load_split(args.dataset, args.data_dir, args.download))
    out = _output_folder(args.out or f"runs/{recipe.name}-{args.dataset}")
    if not args.resume:
        _clear_earlier_run(out)

    manual_seed(args.seed)
    model = recipe.make_model()
    threads = _thread_count(args.threads, model)
    if threads != "auto" and threads > 1:
        print(f"on {threads} threads (--threads; tensorgrad.set_num_threads)")
    with num_threads(threads):
        return _train_and_report(args, recipe, model, data, out)


def _output_folder(path: str) -> Path:
    """``path`` as a folder this process can write, made if needed: checked before any training."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise UsageError(f"--out {path!r}: cannot write there ({err.strerror or err})") from None
    return out


RUN_FILES = ("model.npz", "model.safetensors", "history.json", "metrics.json", "history.png", "confusion_matrix.png",
             "predictions.png")


def _clear_earlier_run(out: Path) -> None:
    """Remove what an earlier run wrote to ``out``, so that the folder never mixes two runs (say, a new
    model beside the old run's metrics when the new one is interrupted, or old plots after --no-plots)."""
    earlier = [name for name in RUN_FILES if (out / name).exists()]
    if earlier:
        print(f"replacing the earlier run in {out} ({', '.join(earlier)})")
        for name in earlier:
            (out / name).unlink()


def _train_and_report(args: argparse.Namespace, recipe: Any, model: Any, data: Any, out: Path) -> int:
    """The rest of ``train``: fit, evaluate, save, plot."""
    from tensorgrad.training import metrics
    from tensorgrad.models.recipes import make_optimizer, make_scheduler, l2_penalty
    from tensorgrad.training.checkpoint import CheckpointError
    from tensorgrad.training.loop import History, evaluate, fit, load_training_state, predict, save_training_state

    optimizer_name = args.optimizer or recipe.optimizer
    optimizer = make_optimizer(recipe, model, lr=args.lr, name=optimizer_name)
    scheduler = make_scheduler(recipe, optimizer)
    print(f"recipe {recipe.name} (document {recipe.document}): {recipe.summary}")
    changed = [f"--{name.replace('_', '-')} {value}" for name in ("epochs", "batch_size", "lr", "optimizer")
               if (value := getattr(args, name)) is not None]
    if changed:
        print("changed from the recipe: " + ", ".join(changed))
    print(f"data: {args.dataset}, {len(data.x_train)} training / "
          f"{0 if data.x_val is None else len(data.x_val)} validation / {len(data.x_test)} test images; "
          f"{model.num_parameters():,} parameters")
    validation = (data.x_val, data.y_val) if data.x_val is not None else None
    start_epoch, history = 0, History()
    if args.resume:
        try:
            start_epoch, history, _ = load_training_state(args.resume, model, optimizer, scheduler)
        except (FileNotFoundError, CheckpointError, RuntimeError, ValueError) as err:
            raise UsageError(f"--resume: {err}") from None
        if start_epoch >= recipe.epochs:
            raise UsageError(f"--resume: {args.resume} is already at epoch {start_epoch} of {recipe.epochs}; "
                             f"pass --epochs N with N > {start_epoch} to train it further")
        print(f"resuming after epoch {start_epoch} from {args.resume}")
    meta = {"recipe": recipe.name, "dataset": args.dataset, "seed": args.seed,
            "input_mean_std": data.input_mean_std}

    def save(epoch: int, history: Any) -> None:  # after every epoch: an interrupted run loses at most one
        save_training_state(out / "model.npz", model, optimizer, scheduler, epoch, history, meta)

    history = fit(model, optimizer, data.x_train, data.y_train, epochs=recipe.epochs,
                  batch_size=recipe.batch_size, validation_data=validation, scheduler=scheduler,
                  shuffle=recipe.shuffle, seed=args.seed, penalty=l2_penalty(recipe, model, optimizer_name),
                  progress=not args.no_progress, on_epoch_end=save, start_epoch=start_epoch, history=history)

    test = evaluate(model, data.x_test, data.y_test)
    predicted = predict(model, data.x_test)
    labels = data.y_test[:, 0].astype(np.int64) if data.y_test.ndim == 2 else data.y_test
    report = metrics.classification_report_dict(labels, predicted)
    (out / "history.json").write_text(history.to_json())
    (out / "metrics.json").write_text(json.dumps({"recipe": recipe.name, "dataset": args.dataset,
                                                  "test_loss": test["loss"], "test_accuracy": test["accuracy"],
                                                  "report": report}, indent=2))
    if not args.no_plots:
        _plots(out, history, labels, predicted, data.x_test, model)
    if args.safetensors:  # the weights alone, with what the model expects as input
        from tensorgrad.interop import save_safetensors
        save_safetensors(model.state_dict(), str(out / "model.safetensors"),
                         metadata={"recipe": recipe.name, "input_mean_std": json.dumps(
                             None if data.input_mean_std is None else [float(v) for v in data.input_mean_std])})
    print(f"test accuracy {test['accuracy']:.4f}  (loss {test['loss']:.4f}, {len(data.x_test)} images)")
    print(f"saved {out}/model.npz, history.json, metrics.json" + (", model.safetensors" if args.safetensors else "")
          + ("" if args.no_plots else " and plots"))
    return 0


def _load_model(path: str):
    from tensorgrad.training.checkpoint import CheckpointError, load_checkpoint

    try:
        arrays, metadata = load_checkpoint(path)
    except (FileNotFoundError, CheckpointError) as err:
        raise UsageError(str(err)) from None
    if "recipe" not in metadata:
        raise UsageError(f"{path}: not a checkpoint of `tensorgrad train` (its metadata names no recipe)")
    recipe = _recipe(str(metadata["recipe"]))
    model = recipe.make_model()
    state = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise UsageError(f"{path}: {err}") from None
    stats = metadata.get("input_mean_std")  # a standardizing recipe's training-set mean and std
    return recipe, model, (tuple(stats) if stats else None), metadata.get("dataset", "sample")


def _model_and_data(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """evaluate's and predict's model from --checkpoint, and the data to run it on: --dataset, or else
    the dataset the checkpoint was trained on (prepared with its training statistics)."""
    recipe, model, input_mean_std, trained_on = _load_model(args.checkpoint)
    dataset = args.dataset or trained_on
    return model, _prepare(recipe, _load_split(dataset, args.data_dir, args.download), input_mean_std), dataset


def _plots(out: Path, history: Any, labels: np.ndarray, predicted: np.ndarray, x_test: np.ndarray, model: Any) -> None:
    try:
        from tensorgrad.teaching import plots
        from tensorgrad.training import metrics
        from tensorgrad.training.loop import predict_proba
        plots.plot_history(history.history, path=out / "history.png")
        plots.plot_confusion_matrix(metrics.confusion_matrix(labels, predicted), path=out / "confusion_matrix.png")
        probabilities = predict_proba(model, x_test[:10])
        if probabilities.shape[1] > 1:
            plots.plot_predictions(x_test[:10].reshape(-1, 28, 28), probabilities, labels[:10], path=out / "predictions.png")
    except ImportError as err:
        print(f"(no plots: {err})")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tensorgrad.training import metrics
    from tensorgrad.speed.parallel import num_threads
    from tensorgrad.training.loop import evaluate, predict

    model, data, dataset = _model_and_data(args)
    print(f"{dataset}: {len(data.x_test)} test images")
    with num_threads(_thread_count(args.threads, model)):
        result = evaluate(model, data.x_test, data.y_test)
        predicted = predict(model, data.x_test)
    labels = data.y_test[:, 0].astype(np.int64) if data.y_test.ndim == 2 else data.y_test
    print(metrics.classification_report(labels, predicted, digits=4))
    print(f"test accuracy {result['accuracy']:.4f}  loss {result['loss']:.4f}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from tensorgrad.training.checkpoint import save_predictions_csv
    from tensorgrad.speed.parallel import num_threads
    from tensorgrad.training.loop import predict

    if Path(args.csv).resolve() == Path(args.checkpoint).resolve():
        raise UsageError(f"--csv {args.csv!r} is the checkpoint itself: writing the CSV would destroy it")
    model, data, dataset = _model_and_data(args)
    with num_threads(_thread_count(args.threads, model)):
        labels = predict(model, data.x_test)
    save_predictions_csv(args.csv, labels)
    print(f"wrote {len(labels)} predictions for the {dataset} test images to {args.csv}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if Path(args.output).resolve() == Path(args.checkpoint).resolve():
        raise UsageError(f"-o {args.output!r} is the checkpoint itself: writing the ONNX file would destroy it")
    try:
        from tensorgrad.onnx import ExportError, export
        import onnx  # noqa: F401  (the error below, before the checkpoint is read)
    except ImportError:
        raise UsageError('export needs the onnx package: pip install onnx '
                         '(or pip install "tensorgrad[onnx]")') from None

    recipe, model, input_mean_std, dataset = _load_model(args.checkpoint)
    example = np.zeros((1, 1, 28, 28) if recipe.images else (1, 28 * 28), np.float32)  # one image of the recipe's shape
    preprocessing = "pixels/255" + (f", then (x - {input_mean_std[0]:.6g}) / {input_mean_std[1]:.6g}"
                                    if input_mean_std else "")
    metadata = {"recipe": recipe.name, "dataset": dataset, "preprocessing": preprocessing,
                "input_mean_std": json.dumps(list(input_mean_std) if input_mean_std else None)}
    try:
        onnx_model = export(model, example, args.output, input_names=["images"], output_names=["logits"],
                            dynamic_batch=not args.static_batch, opset=args.opset, metadata=metadata)
    except ExportError as err:
        raise UsageError(str(err)) from None
    batch = "1" if args.static_batch else "batch"
    shape = ", ".join([batch] + [str(n) for n in example.shape[1:]])
    print(f"wrote {args.output}: recipe {recipe.name}, {len(onnx_model.graph.node)} ONNX nodes, opset {args.opset}; "
          f"input 'images' ({shape}) float32, output 'logits'")
    print(f"the model takes the images as the recipe prepared them: {preprocessing}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from tensorgrad.teaching.audit import audit_json, format_report, run_audit

    rows = run_audit(seed=args.seed)
    print(audit_json(rows, args.lang) if args.json else format_report(rows, args.lang))
    return 0


FUSED_HELP = ("show the graph as training runs it, a layer and its activation in one node "
              "(linear+relu; a convolution with its ReLU and max pooling, conv2d+relu+max_pool2d); "
              "by default each op is its own node")


def _one_step_graph(recipe_name: str, batch_size: int | None, fused: bool = False):
    """A recipe's model, and its loss on one batch of the embedded sample (for graph and trace)."""
    from tensorgrad import data as datasets
    from tensorgrad import manual_seed
    from tensorgrad.models.recipes import prepare_data
    from tensorgrad.training.loop import default_loss

    recipe = _recipe(recipe_name)
    prepared = prepare_data(recipe, datasets.load_mnist_sample())
    size = batch_size or min(recipe.batch_size or 8, 8)
    x, y = prepared.x_train[:size], prepared.y_train[:size]
    manual_seed(0)
    model = recipe.make_model(fused=fused)
    logits = model(x)
    logits.name = "logits"
    loss = default_loss(y)(logits, y)
    loss.name = "loss"
    return recipe, model, loss


def cmd_graph(args: argparse.Namespace) -> int:
    from tensorgrad.teaching.draw import draw, render

    _, model, loss = _one_step_graph(args.recipe, args.batch_size, args.fused)
    loss.backward(retain_graph=True)  # so the graph shows the parameters' gradients
    graph = draw(loss, params=model, collapse="module" if args.collapse else None)
    try:
        path = render(graph, args.output)
    except RuntimeError as err:
        raise UsageError(str(err)) from None
    print(f"wrote {path}")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from tensorgrad.teaching.trace import trace

    recipe, model, loss = _one_step_graph(args.recipe, args.batch_size, args.fused)
    with trace(params=model) as tr:
        loss.backward()
    print(f"backward pass of one step of {recipe.name}: {recipe.summary}")
    print(tr.to_markdown() if args.markdown else tr)
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "export": cmd_export,
            "recipes": cmd_recipes, "audit": cmd_audit, "graph": cmd_graph, "trace": cmd_trace}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tensorgrad`` command; returns the exit status."""
    from tensorgrad.speed.memory import keep_freed_memory

    keep_freed_memory()  # a training process: reuse freed arrays' memory (see tensorgrad.speed.memory)
    try:
        args = build_parser().parse_args(argv)
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except BrokenPipeError:  # output piped into `head` that exits early: stop quietly, as Unix tools do
        _stdout_to_devnull()
        return 0
    except UsageError as err:
        print(f"tensorgrad: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a file or folder that cannot be read or written: name it, no traceback
        where = f": {err.filename!r}" if err.filename and repr(err.filename) not in str(err.strerror) else ""
        print(f"tensorgrad: error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tensorgrad: interrupted", file=sys.stderr)
        return 130


def _stdout_to_devnull() -> None:
    """After a BrokenPipeError, point stdout at /dev/null so that Python's final flush of what is
    left in its buffer does not fail again at exit (Python's docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind sys.stdout (a test's capture)
        pass


if __name__ == "__main__":
    sys.exit(main())
