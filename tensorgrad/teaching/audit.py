"""The course documents' hand-derived gradients, audited against autograd.

Each course document (the Spanish notebooks tensorgrad comes from) appears here twice:

* its **hand-derived backward**, rewritten in NumPy from the document's formulas and KEEPING the
  document's choices, mistakes included (the point is to find them, not to fix them);
* the **same model as tensorgrad ops**, so autograd computes the gradients of the same loss.

:func:`run_audit` compares the two with :func:`tensorgrad.teaching.compare.compare_grads` at the
documents' real layer sizes (batch sizes matter: a forgotten ``/batch_size`` shows up as x64),
and checks autograd itself against finite differences (``tg.gradcheck``) on a small model.

==========  ===========================================================  =====================
document    model / hand-derived backward                                 what the audit finds
==========  ===========================================================  =====================
doc000      784-128-10 ReLU/softmax, full batch, mean CE, L2 reg 0.001     match (of CE + L2/2;
                                                                          the printed loss has
                                                                          no L2 term)
doc001      Keras 784-512 sigmoid -> 10 softmax                            no hand-derived
                                                                          gradient (FD only)
doc002      784-200-10 ReLU/softmax, class-first, batches of 64           W1, b1 x64: missing
                                                                          /batch_size
doc003      784-10-1 sigmoid/sigmoid, log loss                            W1, b1: tanh-style
                                                                          derivative 1−A1²
doc004      784-128-10 ReLU/softmax, one column-vector sample, summed CE  match
==========  ===========================================================  =====================

Each finding comes with the document's own line of code that holds it (a :class:`Quote`, kept
verbatim in this module: ``DOC002_DW1`` is document 002's ``dw1 = dz1 @ x``), and the audit can be
printed in English (the default) or in Spanish, the documents' language::

    print(format_report(run_audit(), lang="es"))     # tensorgrad audit --lang es
"""
from __future__ import annotations

import json
import math
import re
import textwrap
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from ..tensor import Tensor, tensor
from .compare import ActivationSite, GradReport, _table, compare_grads
from .gradcheck import GradcheckResult, gradcheck

__all__ = [
    "DocumentCase", "DocumentModel", "AuditRow", "Quote", "QUOTES", "DOCUMENTS", "LANGUAGES", "run_audit",
    "format_audit", "format_findings", "format_report", "audit_json", "spanish_diagnosis",
    "doc000_against_printed_loss",
]

Params = dict[str, np.ndarray]


# ============================================================================ the documents' own lines
@dataclass(frozen=True)
class Quote:
    """One line of a course document's code, verbatim, and what the audit finds in it.

    Attributes:
        document: ``"doc002"``; source: the seed file it is quoted from.
        where: the cell and function that hold the line, e.g. ``"In [12], backward_propagation()"``.
        line: the line as the document writes it (its indentation left out).
        parameters: the audit rows (parameters) it explains.
        shows, shows_es: what the line shows, in English and in Spanish.
    """

    document: str
    source: str
    where: str
    line: str
    parameters: tuple[str, ...]
    shows: str
    shows_es: str

    def explain(self, lang: str = "en") -> str:
        """What the line shows, in ``lang`` ("en" or "es")."""
        return self.shows_es if _check_lang(lang) == "es" else self.shows

    def to_dict(self, lang: str = "en") -> dict[str, str]:
        return {"source": self.source, "where": self.where, "line": self.line, "shows": self.explain(lang)}


_DOC000 = "000_6c1f3608254552eb.txt"
_DOC001 = "001_a176dfa070a01a37.txt"
_DOC002 = "002_cfa10fcf953ac712.txt"
_DOC003 = "003_ce37c61c906a8f37.txt"

DOC000_DW1 = Quote(
    "doc000", _DOC000, "In [50], NeuralNetwork.train()",
    "Dw1 = d_h.T @ X / len(X) + self.reg * self.w1", ("w1",),
    "adds reg·w1, the gradient of an L2 term reg/2·‖w1‖²; the loss the document prints has no such "
    "term, so the loss it prints is not the one its gradients minimise",
    "suma reg·w1, el gradiente de un término L2 reg/2·‖w1‖²; la pérdida que imprime el documento no "
    "tiene ese término, así que la pérdida impresa no es la que minimizan sus gradientes")
DOC000_DW2 = Quote(
    "doc000", _DOC000, "In [50], NeuralNetwork.train()",
    "Dw2 = d_out.T @ h / len(X) + self.reg * self.w2", ("w2",),
    "adds reg·w2, the gradient of an L2 term reg/2·‖w2‖²; the loss the document prints has no such "
    "term, so the loss it prints is not the one its gradients minimise",
    "suma reg·w2, el gradiente de un término L2 reg/2·‖w2‖²; la pérdida que imprime el documento no "
    "tiene ese término, así que la pérdida impresa no es la que minimizan sus gradientes")
DOC000_LOSS = Quote(
    "doc000", _DOC000, "In [50], NeuralNetwork.train()",
    "loss = -np.mean(np.sum(Y * np.log(f + 1e-8), axis=1))", ("b1", "b2"),
    "the loss printed every epoch: the mean cross-entropy without the L2 term reg/2·(‖w1‖²+‖w2‖²) "
    "that Dw1 and Dw2 differentiate (the biases are not regularised: their gradients fit both losses)",
    "la pérdida que se imprime en cada época: la entropía cruzada media sin el término L2 "
    "reg/2·(‖w1‖²+‖w2‖²) que derivan Dw1 y Dw2 (los sesgos no se regularizan: sus gradientes "
    "valen para las dos pérdidas)")
DOC001_MODEL = Quote(
    "doc001", _DOC001, "network (models.Sequential)",
    "network.add(layers.Dense(512, activation='sigmoid', input_shape=(28 * 28,)))", ("W1", "b1", "W2", "b2"),
    "a Keras model: Keras computes its gradients and the document derives none by hand, so the audit "
    "only checks autograd against finite differences",
    "un modelo de Keras: Keras calcula sus gradientes y el documento no deriva ninguno a mano, así que "
    "la auditoría solo compara autograd con diferencias finitas")
DOC002_DW1 = Quote(
    "doc002", _DOC002, "backward()", "dw1 = dz1 @ x", ("W1",),
    "no / batch_size, which dw2 = dz2 @ a1.T / batch_size has: W1's gradient is batch_size (64) times "
    "too big, as if the first layer's learning rate were 64 times larger",
    "le falta el / batch_size que sí tiene dw2 = dz2 @ a1.T / batch_size: el gradiente de W1 sale "
    "batch_size (64) veces más grande, como si la primera capa tuviera una tasa de aprendizaje 64 "
    "veces mayor")
DOC002_DB1 = Quote(
    "doc002", _DOC002, "backward()", "db1 = np.sum(dz1, axis=1, keepdims=True)", ("b1",),
    "no / batch_size, which db2 = np.sum(dz2, axis=1, keepdims=True) / batch_size has: b1's gradient "
    "is batch_size (64) times too big",
    "le falta el / batch_size que sí tiene db2 = np.sum(dz2, axis=1, keepdims=True) / batch_size: el "
    "gradiente de b1 sale batch_size (64) veces más grande")
DOC003_DZ1 = Quote(
    "doc003", _DOC003, "In [12], backward_propagation()",
    "dZ1 = np.dot(params['W2'].T, dZ2)*(1-np.power(activations['A1'], 2))", ("W1", "b1"),
    "1 − A1² is the derivative of tanh, but the hidden layer is A1 = sigmoid(Z1) (In [10]), whose "
    "derivative is A1·(1 − A1): the gradients of W1 and b1 are wrong",
    "1 − A1² es la derivada de tanh, pero la capa oculta es A1 = sigmoid(Z1) (In [10]), cuya derivada "
    "es A1·(1 − A1): los gradientes de W1 y b1 son incorrectos")

#: Every quoted line, in document order.
QUOTES: tuple[Quote, ...] = (DOC000_DW1, DOC000_DW2, DOC000_LOSS, DOC001_MODEL, DOC002_DW1, DOC002_DB1,
                             DOC003_DZ1)


# ============================================================================ two languages
#: The languages the audit speaks: English (the default) and Spanish, the documents' language.
LANGUAGES = ("en", "es")


def _check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"audit: unknown language {lang!r}; choose one of: {', '.join(LANGUAGES)}")
    return lang


_WORDS = {
    "en": {"head": ["document", "parameter", "status", "max rel err", "autograd vs FD", "diagnosis"],
           "match": "match", "mismatch": "mismatch", "missing": "missing",
           "no hand-derived gradient": "no hand-derived gradient", "ok": "ok", "failed": "FAILED",
           "findings": "What the audit finds, in the documents' own lines:"},
    "es": {"head": ["documento", "parámetro", "estado", "error rel. máx.", "autograd vs. dif. finitas",
                    "diagnóstico"],
           "match": "coincide", "mismatch": "no coincide", "missing": "falta",
           "no hand-derived gradient": "sin gradiente a mano", "ok": "correcto", "failed": "FALLA",
           "findings": "Lo que encuentra la auditoría, en las líneas de los propios documentos:"},
}

#: How compare_grads writes the derivatives it recognises, in Spanish.
_DERIVATIVES_ES = {"tanh' written as 1−a²": "la derivada de tanh escrita como 1−a²",
                   "identity (1)": "la derivada de la identidad (1)",
                   "the activation's value a itself (f(z) where f'(z) belongs)":
                       "el propio valor de la activación, a (f(z) donde va f'(z))"}
_ACTIVATIONS_ES = {"sigmoid": "la sigmoide", "tanh": "la tanh", "relu": "la ReLU", "identity": "la identidad",
                   "linear": "lineal"}

#: compare_grads's diagnoses (English) and their Spanish; each pattern must match a whole piece.
_SPANISH: list[tuple[str, Callable[[re.Match], str]]] = [
    (r"constant scale factor: manual ≈ (?P<c>\S+)·autograd \(x(?P<s>−?)(?P<n>\d+): a missing or extra "
     r"1/batch\? Here missing: .*\)",
     lambda m: (f"factor de escala constante: manual ≈ {m['c']}·autograd (x{m['s']}{m['n']}: ¿falta o sobra "
                f"dividir entre el lote? Aquí falta: el gradiente calculado a mano es {m['n']} veces más grande, "
                f"como si se hubiera olvidado dividir entre un tamaño de lote de {m['n']})")),
    (r"constant scale factor: manual ≈ (?P<c>\S+)·autograd \(x(?P<s>−?)1/(?P<n>\d+): a missing or extra "
     r"1/batch\? Here extra: .*\)",
     lambda m: (f"factor de escala constante: manual ≈ {m['c']}·autograd (x{m['s']}1/{m['n']}: ¿falta o "
                f"sobra dividir entre el lote? Aquí sobra: el gradiente calculado a mano es {m['n']} veces más "
                f"pequeño, como si dividiera una vez de más entre un tamaño de lote de {m['n']})")),
    (r"constant scale factor: manual ≈ (?P<c>\S+)·autograd",
     lambda m: f"factor de escala constante: manual ≈ {m['c']}·autograd"),
    (r"sign flip: manual ≈ −1·autograd \(e\.g\. y − ŷ written for ŷ − y\)",
     lambda m: "signo invertido: manual ≈ −1·autograd (p. ej., y − ŷ escrito en lugar de ŷ − y)"),
    (r"transpose: manual\.T ≈ autograd \(the hand gradient has the transposed shape\)",
     lambda m: "traspuesta: manual.T ≈ autograd (el gradiente calculado a mano tiene la forma traspuesta)"),
    (r"transpose: manual\.T ≈ autograd \(rows and columns swapped, e\.g\. (?P<a>.+) for (?P<b>.+)\)",
     lambda m: (f"traspuesta: manual.T ≈ autograd (filas y columnas intercambiadas, p. ej., {m['a']} en "
                f"lugar de {m['b']})")),
    (r"extra L2 term (?P<lam>\S+)·w in the hand gradient \(or missing from the loss\)",
     lambda m: f"el gradiente calculado a mano tiene un término L2 de más, {m['lam']}·w (o le falta a la pérdida)"),
    (r"missing L2 term (?P<lam>\S+)·w in the hand gradient \(or extra in the loss\)",
     lambda m: f"al gradiente calculado a mano le falta el término L2 {m['lam']}·w (o le sobra a la pérdida)"),
    (r"uses (?P<used>.+) but the layer's activation is (?P<act>\w+) \(whose derivative is (?P<true>.+)\)"
     r" at site '(?P<site>[^']*)'",
     lambda m: (f"usa {_DERIVATIVES_ES.get(m['used'], m['used'])}, pero la activación de la capa es "
                f"{_ACTIVATIONS_ES.get(m['act'], m['act'])} (cuya derivada es {m['true']}) en la capa "
                + ("oculta" if m["site"] == "hidden" else repr(m["site"])))),
    (r"the hand gradient is all zeros \(a missing term, or a gradient never written\)",
     lambda m: ("el gradiente calculado a mano vale cero en todos sus elementos (falta un término, o el "
                "gradiente nunca se escribió)")),
    (r"no simple pattern \(max rel error (?P<e>\S+)\)",
     lambda m: f"no sigue ningún patrón sencillo (error relativo máximo {m['e']})"),
    (r"shape mismatch: manual (?P<a>\(.*?\)) vs autograd (?P<b>\(.*?\))",
     lambda m: f"formas distintas: manual {m['a']} frente a autograd {m['b']}"),
    (r"manual (?P<a>\(.*?\)) reshaped to (?P<b>\(.*?\))",
     lambda m: f"manual {m['a']} redimensionado a {m['b']}"),
    (r"manual (?P<a>\(.*?\)) compared transposed to (?P<b>\(.*?\))",
     lambda m: f"manual {m['a']} comparado traspuesto con {m['b']}"),
    (r"manual key '(?P<key>[^']+)' matched to (?P<name>\S+)",
     lambda m: f"la clave manual '{m['key']}' se empareja con {m['name']}"),
]


def spanish_diagnosis(text: str) -> str:
    """A :func:`compare_grads` diagnosis in Spanish, piece by piece ("; " separates them); a piece
    it does not know stays in English."""
    pieces = []
    for piece in text.split("; ") if text else []:
        for pattern, spanish in _SPANISH:
            found = re.fullmatch(pattern, piece)
            if found:
                piece = spanish(found)
                break
        pieces.append(piece)
    return "; ".join(pieces)


# ============================================================================ shared pieces
@dataclass
class DocumentCase:
    """Everything :func:`compare_grads` needs for one document, on one set of random data."""

    manual: dict[str, np.ndarray]
    autograd: dict[str, np.ndarray]
    params: Params
    activation_sites: list[ActivationSite]
    data: tuple[np.ndarray, ...] = ()

    def compare(self, **kwargs: Any) -> GradReport:
        """``compare_grads(manual, autograd, params=..., activation_sites=...)``."""
        return compare_grads(self.manual, self.autograd, params=self.params,
                             activation_sites=self.activation_sites, **kwargs)


@dataclass
class DocumentModel:
    """One document: its data layout, initialisation, tensorgrad loss and hand-derived backward.

    Attributes:
        key, title, source: ``"doc002"``, a short description, the seed file name.
        sizes, batch: the document's real layer sizes and batch, used against the hand backward.
        small_sizes, small_batch: a small model for the finite-difference check of autograd.
        make_data: ``(rng, sizes, batch) -> data arrays`` in the document's layout.
        init_params: ``(rng, sizes) -> {name: array}`` as the document initialises them.
        loss: ``(*data, **params) -> scalar Tensor``: the document's model as tensorgrad ops.
        backward: ``(*data, params) -> (manual grads, activation sites)``, the document's own
            formulas; ``None`` when the document has no hand-derived backward.
        note, note_es: said in every row of the audit for this document (English, Spanish).
        annotate: optional ``(case) -> {name: (note, note_es)}`` adding a per-parameter note to the
            audit, in English and in Spanish.
        quotes: the document's own lines behind the findings (see :class:`Quote`).
    """

    key: str
    title: str
    source: str
    sizes: tuple[int, int, int]
    batch: int
    small_sizes: tuple[int, int, int]
    small_batch: int
    make_data: Callable[[np.random.Generator, tuple[int, int, int], int], tuple[np.ndarray, ...]]
    init_params: Callable[[np.random.Generator, tuple[int, int, int]], Params]
    loss: Callable[..., Tensor]
    backward: Callable[..., tuple[dict[str, np.ndarray], list[ActivationSite]]] | None
    note: str = ""
    annotate: Callable[["DocumentCase"], dict[str, tuple[str, str]]] | None = None
    note_es: str = ""
    quotes: tuple[Quote, ...] = ()

    def quote_for(self, parameter: str) -> Quote | None:
        """The document's line behind ``parameter``'s finding, if the audit quotes one."""
        return next((q for q in self.quotes if parameter in q.parameters), None)

    def case(self, rng: np.random.Generator) -> DocumentCase:
        """Random data and parameters at the real sizes; the hand and the autograd gradients."""
        data = self.make_data(rng, self.sizes, self.batch)
        params = self.init_params(rng, self.sizes)
        manual, sites = self.backward(*data, params) if self.backward else ({}, [])
        return DocumentCase(manual, autograd_grads(self.loss, data, params), params, sites, data)

    def fd_check(self, rng: np.random.Generator) -> GradcheckResult:
        """Autograd's gradients of :attr:`loss` against central finite differences, small model."""
        data = self.make_data(rng, self.small_sizes, self.small_batch)
        params = self.init_params(rng, self.small_sizes)
        names = list(params)
        tensors = [tensor(np.asarray(params[k], dtype=np.float64), requires_grad=True, name=k) for k in names]
        return gradcheck(lambda *ts: self.loss(*data, **dict(zip(names, ts))), tensors, raise_exception=False)


def autograd_grads(loss: Callable[..., Tensor], data: tuple[np.ndarray, ...], params: Params) -> dict[str, np.ndarray]:
    """The gradients of ``loss(*data, **params)`` by autograd, in float64."""
    tensors = {k: tensor(np.asarray(v, dtype=np.float64), requires_grad=True, name=k) for k, v in params.items()}
    loss(*data, **tensors).backward()
    return {k: t.grad for k, t in tensors.items()}


def _pixels(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random stand-ins for MNIST pixels already divided by 255."""
    return rng.random(shape)


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    """Document 000's ``softmax`` (cell In [48]): stable, over axis 1 (rows are samples)."""
    exp_z = np.exp(z - np.max(z, axis=1, keepdims=True))
    return exp_z / exp_z.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Document 003's ``sigmoid`` (cell In [7])."""
    return 1.0 / (1 + np.exp(-z))


# ============================================================================ document 000
# "RED NEURONAL": NumPy MLP, rows are samples, full batch, mean cross-entropy, L2 reg = 0.001.
def doc000_data(rng: np.random.Generator, sizes: tuple[int, int, int], batch: int) -> tuple[np.ndarray, ...]:
    """X (N, 784) pixels in [0, 1]; Y one-hot (N, 10) (cells In [44]-[45])."""
    n_in, _, n_out = sizes
    return _pixels(rng, (batch, n_in)), np.eye(n_out)[rng.integers(0, n_out, batch)]


def doc000_init(rng: np.random.Generator, sizes: tuple[int, int, int]) -> Params:
    """``NeuralNetwork.__init__`` (In [47]): randn / sqrt(fan_in), zero biases."""
    n_in, n_hidden, n_out = sizes
    return {"w1": rng.standard_normal((n_hidden, n_in)) / np.sqrt(n_in), "b1": np.zeros(n_hidden),
            "w2": rng.standard_normal((n_out, n_hidden)) / np.sqrt(n_hidden), "b2": np.zeros(n_out)}


DOC000_REG = 0.001


def doc000_loss(X: np.ndarray, Y: np.ndarray, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
    """The objective document 000's gradient follows: mean CE + reg/2·(‖w1‖² + ‖w2‖²)."""
    return doc000_printed_loss(X, Y, w1, b1, w2, b2) + 0.5 * DOC000_REG * ((w1 ** 2).sum() + (w2 ** 2).sum())


def doc000_printed_loss(X: np.ndarray, Y: np.ndarray, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
    """The loss document 000 prints (``loss = -np.mean(np.sum(Y * np.log(f + 1e-8), axis=1))``):
    mean CE without the L2 term. (log_softmax stands for log(f + 1e-8): the document's
    ``d_out = f - Y`` is the gradient of the exact cross-entropy.)"""
    h = (tensor(X) @ w1.T + b1).relu()
    log_f = (h @ w2.T + b2).log_softmax(axis=1)
    return -(log_f * Y).sum(axis=1).mean()


def doc000_backward(X: np.ndarray, Y: np.ndarray, p: Params) -> tuple[dict[str, np.ndarray], list[ActivationSite]]:
    """``NeuralNetwork.train`` (cell In [50]), its FORWARD PASS and BACKPROPAGATION verbatim."""
    w1, b1, w2, b2, reg = p["w1"], p["b1"], p["w2"], p["b2"], DOC000_REG
    # FORWARD PASS
    z = X @ w1.T + b1
    h = np.maximum(0, z)                               # self.relu(X @ self.w1.T + self.b1)
    f = _softmax_rows(h @ w2.T + b2)
    # BACKPROPAGATION
    d_out = f - Y
    d_h = (h > 0) * (d_out @ w2)
    Dw2 = d_out.T @ h / len(X) + reg * w2
    Db2 = d_out.mean(axis=0)
    Dw1 = d_h.T @ X / len(X) + reg * w1
    Db1 = d_h.mean(axis=0)
    site = ActivationSite("hidden", "relu", z, h, d_out @ w2,
                          lambda dz: {"w1": dz.T @ X / len(X) + reg * w1, "b1": dz.mean(axis=0)})
    return {"w1": Dw1, "b1": Db1, "w2": Dw2, "b2": Db2}, [site]


def _doc000_annotate(case: DocumentCase) -> dict[str, tuple[str, str]]:
    """Compare the same hand gradient with the printed loss (no L2) and quote what it finds."""
    printed = compare_grads(case.manual, autograd_grads(doc000_printed_loss, case.data, case.params),
                            params=case.params)
    notes = {}
    for row in printed.rows:
        if row.status == "mismatch":
            found, found_es = row.diagnosis, spanish_diagnosis(row.diagnosis)
        else:
            found, found_es = ("the same gradient: biases are not regularised",
                               "el mismo gradiente: los sesgos no se regularizan")
        notes[row.name] = ("gradient of mean CE + reg/2·Σw²; the loss the document prints leaves the "
                           f"L2 term out (against it: {found})",
                           "gradiente de la entropía cruzada media + reg/2·Σw²; la pérdida que imprime el "
                           f"documento deja fuera el término L2 (frente a ella: {found_es})")
    return notes


# ============================================================================ document 001
# Keras walkthrough: Sequential Dense(512, sigmoid) -> Dense(10, softmax). No hand backward.
def doc001_init(rng: np.random.Generator, sizes: tuple[int, int, int]) -> Params:
    """Keras defaults: glorot_uniform kernels laid out (in, out), zero biases."""
    n_in, n_hidden, n_out = sizes
    glorot = lambda a, b: rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b))  # noqa: E731
    return {"W1": glorot(n_in, n_hidden), "b1": np.zeros(n_hidden),
            "W2": glorot(n_hidden, n_out), "b2": np.zeros(n_out)}


def doc001_loss(x: np.ndarray, y: np.ndarray, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    """``Dense(512, activation='sigmoid')``, ``Dense(10, activation='softmax')`` and the batch-mean
    categorical cross-entropy (the compile cell is not shown; its 'loss' is this one's scale)."""
    h = (tensor(x) @ W1 + b1).sigmoid()
    return -((h @ W2 + b2).log_softmax(axis=-1) * y).sum(axis=1).mean()


# ============================================================================ document 002
# Lab report (UADY): class-first layout (x.T is (784, batch)), 784-200-10, mini-batches of 64.
def doc002_data(rng: np.random.Generator, sizes: tuple[int, int, int], batch: int) -> tuple[np.ndarray, ...]:
    """x (batch, 784) as ``create_minibatches`` yields it (``scores`` gets ``x.T``); integer
    labels y (batch, 1) (``x_entropy`` indexes ``probs[y.squeeze(), np.arange(batch_size)]``)."""
    n_in, _, n_out = sizes
    return _pixels(rng, (batch, n_in)), rng.integers(0, n_out, (batch, 1))


def doc002_init(rng: np.random.Generator, sizes: tuple[int, int, int]) -> Params:
    """The report does not show its initialisation: scaled normal weights, column biases (n, 1)
    (``backward`` asserts ``parameters['b1'].shape == db1.shape`` with ``keepdims=True``)."""
    n_in, n_hidden, n_out = sizes
    return {"W1": rng.standard_normal((n_hidden, n_in)) * np.sqrt(2 / n_in), "b1": np.zeros((n_hidden, 1)),
            "W2": rng.standard_normal((n_out, n_hidden)) * np.sqrt(2 / n_hidden), "b2": np.zeros((n_out, 1))}


def doc002_loss(x: np.ndarray, y: np.ndarray, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    """``scores`` then ``x_entropy``: softmax over classes (axis 0), mean of −log ŷ over the batch."""
    batch_size = len(x)
    z1 = W1 @ tensor(x).T + b1
    z2 = W2 @ z1.relu() + b2
    log_probs = z2.log_softmax(axis=0)
    return -log_probs[y.squeeze(), np.arange(batch_size)].sum() / batch_size


def doc002_backward(x: np.ndarray, y: np.ndarray, parameters: Params) -> tuple[dict[str, np.ndarray], list[ActivationSite]]:
    """``scores``, ``x_entropy`` and ``backward`` as the report writes them (``dw1 = dz1 @ x`` and
    ``db1 = np.sum(dz1, ...)`` lack the ``/ batch_size`` that ``dw2`` and ``db2`` have)."""
    batch_size = len(x)
    # scores(x.T, parameters, activation_fcn=relu)
    z1 = parameters['W1'] @ x.T + parameters['b1']
    a1 = np.maximum(0, z1)
    scores = parameters['W2'] @ a1 + parameters['b2']
    # x_entropy: probs = softmax(scores), over the classes (axis 0) in this layout
    probs = np.exp(scores - scores.max(axis=0, keepdims=True))
    probs /= probs.sum(axis=0, keepdims=True)
    # backward(probs, x, y, z1, a1, scores, parameters, batch_size)
    probs[y.squeeze(), np.arange(batch_size)] -= 1  # y-hat - y
    dz2 = probs.copy()

    dw2 = dz2 @ a1.T / batch_size
    db2 = np.sum(dz2, axis=1, keepdims=True) / batch_size
    da1 = parameters['W2'].T @ dz2

    dz1 = da1.copy()
    dz1[z1 <= 0] = 0

    dw1 = dz1 @ x
    db1 = np.sum(dz1, axis=1, keepdims=True)

    site = ActivationSite("hidden", "relu", z1, a1, da1,
                          lambda dz: {"W1": dz @ x / batch_size, "b1": dz.sum(axis=1, keepdims=True) / batch_size})
    return {"W1": dw1, "b1": db1, "W2": dw2, "b2": db2}, [site]


# ============================================================================ document 003
# Tutorial, part 2: binary classifier (0 vs 1), X is (784, m), sigmoid hidden layer of 10 units.
def doc003_data(rng: np.random.Generator, sizes: tuple[int, int, int], batch: int) -> tuple[np.ndarray, ...]:
    """X (784, m) (``x = X.T``), Y (1, m) of 0/1 (``y = Y.values.reshape(1, Y.size)``).
    The notebook feeds raw 0-255 pixels; here they are in [0, 1], which keeps the sigmoid out of
    saturation so that the gradients say something (the formulas do not depend on it)."""
    n_in, _, n_out = sizes
    return _pixels(rng, (n_in, batch)), rng.integers(0, 2, (n_out, batch)).astype(np.float64)


def doc003_init(rng: np.random.Generator, sizes: tuple[int, int, int]) -> Params:
    """``define_network_parameters`` (In [9]): randn·0.01 weights, zero biases (n, 1)."""
    n_x, n_h, n_y = sizes
    return {"W1": rng.standard_normal((n_h, n_x)) * 0.01, "b1": np.zeros((n_h, 1)),
            "W2": rng.standard_normal((n_y, n_h)) * 0.01, "b2": np.zeros((n_y, 1))}


def doc003_loss(X: np.ndarray, Y: np.ndarray, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    """``forward_propagation`` (sigmoid, sigmoid) and ``compute_error`` (log loss / m)."""
    A1 = (W1 @ tensor(X) + b1).sigmoid()
    A2 = (W2 @ A1 + b2).sigmoid()
    logprobs = A2.log() * Y + (1 - A2).log() * (1 - Y)
    return -logprobs.sum() / Y.shape[1]


def doc003_backward(X: np.ndarray, Y: np.ndarray, params: Params) -> tuple[dict[str, np.ndarray], list[ActivationSite]]:
    """``forward_propagation`` (In [10]) and ``backward_propagation`` (In [12]) verbatim: the hidden
    layer is a sigmoid, but dZ1 multiplies by ``1 - A1**2``, the derivative of tanh."""
    # forward_propagation
    Z1 = np.dot(params['W1'], X) + params['b1']
    A1 = _sigmoid(Z1)
    Z2 = np.dot(params['W2'], A1) + params['b2']
    A2 = _sigmoid(Z2)
    activations = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}
    # backward_propagation
    m = X.shape[1]

    # output layer
    dZ2 = activations['A2'] - Y  # compute the error derivative
    dW2 = np.dot(dZ2, activations['A1'].T) / m  # compute the weight derivative
    db2 = np.sum(dZ2, axis=1, keepdims=True) / m  # compute the bias derivative

    # hidden layer
    dZ1 = np.dot(params['W2'].T, dZ2) * (1 - np.power(activations['A1'], 2))
    dW1 = np.dot(dZ1, X.T) / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m

    site = ActivationSite("hidden", "sigmoid", Z1, A1, np.dot(params['W2'].T, dZ2),
                          lambda dz: {"W1": dz @ X.T / m, "b1": dz.sum(axis=1, keepdims=True) / m})
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}, [site]


# ============================================================================ document 004
# NumPy MLP, one sample at a time as a column vector, He init, summed cross-entropy.
def doc004_data(rng: np.random.Generator, sizes: tuple[int, int, int], batch: int) -> tuple[np.ndarray, ...]:
    """One sample: x (784, 1) (``x_train[i].reshape(-1, 1)``), one-hot y (10, 1). ``batch`` is 1."""
    n_in, _, n_out = sizes
    return _pixels(rng, (n_in, batch)), np.eye(n_out)[rng.integers(0, n_out, batch)].T


def doc004_init(rng: np.random.Generator, sizes: tuple[int, int, int]) -> Params:
    """He init (In [17]): randn·sqrt(2/fan_in) weights, zero column biases."""
    n_in, n_hidden, n_out = sizes
    return {"W1": rng.standard_normal((n_hidden, n_in)) * np.sqrt(2. / n_in), "b1": np.zeros((n_hidden, 1)),
            "W2": rng.standard_normal((n_out, n_hidden)) * np.sqrt(2. / n_hidden), "b2": np.zeros((n_out, 1))}


def doc004_loss(x: np.ndarray, y: np.ndarray, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
    """``forward``/``relu``/``softmax`` and ``cross_entropy`` = −Σ y·log(y_pred) (summed; its
    epsilon 1e-12 left out: ``dz2 = y_pred - y`` is the gradient of the exact cross-entropy)."""
    a1 = (W1 @ tensor(x) + b1).relu()
    return -((W2 @ a1 + b2).log_softmax(axis=0) * y).sum()


def doc004_backward(x: np.ndarray, y: np.ndarray, params: Params) -> tuple[dict[str, np.ndarray], list[ActivationSite]]:
    """``fit(x, y, W1, b1, W2, b2)`` (cell In [12]) verbatim."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    # Primer paso del forward (hidden layer)
    z1 = np.dot(W1, x) + b1
    a1 = np.maximum(0, z1)
    # Segundo y último paso del forward (output layer)
    z2 = np.dot(W2, a1) + b2
    y_pred = np.exp(z2) / np.sum(np.exp(z2))
    # Propagación retrógrada (gradiente de la salida)
    dz2 = y_pred - y
    dW2 = np.dot(dz2, a1.T)
    db2 = dz2
    # Propagación retrógrada (gradiente de la hidden layer)
    da1 = np.dot(W2.T, dz2)
    dz1 = da1 * (z1 > 0).astype(float)  # relu_derivada(z1)
    dW1 = np.dot(dz1, x.T)
    db1 = dz1
    site = ActivationSite("hidden", "relu", z1, a1, da1, lambda dz: {"W1": dz @ x.T, "b1": dz})
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}, [site]


# ============================================================================ the table of documents
DOCUMENTS: dict[str, DocumentModel] = {
    "doc000": DocumentModel(
        "doc000", "NumPy MLP, full batch, mean CE, L2 reg 0.001", "000_6c1f3608254552eb.txt",
        sizes=(784, 128, 10), batch=100, small_sizes=(20, 8, 3), small_batch=5,
        make_data=doc000_data, init_params=doc000_init, loss=doc000_loss, backward=doc000_backward,
        annotate=_doc000_annotate, quotes=(DOC000_DW1, DOC000_DW2, DOC000_LOSS)),
    "doc001": DocumentModel(
        "doc001", "Keras 784-512 sigmoid, 10 softmax", "001_a176dfa070a01a37.txt",
        sizes=(784, 512, 10), batch=128, small_sizes=(20, 8, 3), small_batch=5,
        make_data=doc000_data, init_params=doc001_init, loss=doc001_loss, backward=None,
        note="Keras model: no hand-derived backward in the document; autograd checked against "
             "finite differences on a 20-8-3 model",
        note_es="modelo de Keras: el documento no deriva el gradiente a mano; autograd comprobado con "
                "diferencias finitas en un modelo 20-8-3",
        quotes=(DOC001_MODEL,)),
    "doc002": DocumentModel(
        "doc002", "lab report, class-first, 784-200-10, batches of 64", "002_cfa10fcf953ac712.txt",
        sizes=(784, 200, 10), batch=64, small_sizes=(20, 8, 3), small_batch=5,
        make_data=doc002_data, init_params=doc002_init, loss=doc002_loss, backward=doc002_backward,
        quotes=(DOC002_DW1, DOC002_DB1)),
    "doc003": DocumentModel(
        "doc003", "binary 0-vs-1, sigmoid hidden layer, log loss", "003_ce37c61c906a8f37.txt",
        sizes=(784, 10, 1), batch=100, small_sizes=(20, 8, 1), small_batch=5,
        make_data=doc003_data, init_params=doc003_init, loss=doc003_loss, backward=doc003_backward,
        quotes=(DOC003_DZ1,)),
    "doc004": DocumentModel(
        "doc004", "NumPy MLP, per-sample column vectors, summed CE", "004_484b5330615391b8.txt",
        sizes=(784, 128, 10), batch=1, small_sizes=(20, 8, 3), small_batch=1,
        make_data=doc004_data, init_params=doc004_init, loss=doc004_loss, backward=doc004_backward),
}


def doc000_against_printed_loss(seed: int = 0) -> GradReport:
    """Document 000's hand gradient against the loss it PRINTS (mean CE, no L2 term)."""
    case = replace(DOCUMENTS["doc000"], loss=doc000_printed_loss).case(np.random.default_rng(seed))
    return case.compare()


# ============================================================================ the audit
@dataclass
class AuditRow:
    """One document parameter: the hand gradient against autograd, and autograd against FD.

    ``status`` is ``"match"``, ``"mismatch"`` or ``"no hand-derived gradient"``;
    ``max_rel_err`` is None without a hand gradient; ``autograd_vs_fd`` says whether autograd's
    gradient of this parameter agrees with finite differences on the document's small model;
    ``diagnosis_es`` is ``diagnosis`` in Spanish; ``quote`` the document's line behind a finding.
    """

    document: str
    parameter: str
    status: str
    max_rel_err: float | None
    diagnosis: str
    autograd_vs_fd: bool = False
    diagnosis_es: str = ""
    quote: Quote | None = field(default=None, repr=False)

    def explain(self, lang: str = "en") -> str:
        """The diagnosis in ``lang`` ("en" or "es")."""
        return self.diagnosis_es if _check_lang(lang) == "es" else self.diagnosis


def run_audit(seed: int = 0) -> list[AuditRow]:
    """Audit every document: one row per parameter (see :class:`AuditRow`)."""
    rng = np.random.default_rng(seed)
    rows: list[AuditRow] = []
    for doc in DOCUMENTS.values():
        fd = {check.name: check.ok for check in doc.fd_check(rng).inputs}
        if doc.backward is None:
            for name in fd:
                rows.append(AuditRow(doc.key, name, "no hand-derived gradient", None, doc.note, fd[name],
                                     doc.note_es, doc.quote_for(name)))
            continue
        case = doc.case(rng)
        report = case.compare()
        notes = doc.annotate(case) if doc.annotate else {}
        for row in report.rows:
            note, note_es = notes.get(row.name, ("", ""))
            diagnosis = "; ".join(s for s in (row.diagnosis, note, doc.note) if s)
            diagnosis_es = "; ".join(s for s in (spanish_diagnosis(row.diagnosis), note_es, doc.note_es) if s)
            rel = row.max_rel_err if math.isfinite(row.max_rel_err) else None
            quote = doc.quote_for(row.name) if diagnosis else None  # a line only where there is a finding
            rows.append(AuditRow(doc.key, row.name, row.status, rel, diagnosis, fd.get(row.name, False),
                                 diagnosis_es, quote))
    return rows


def format_audit(rows: list[AuditRow], lang: str = "en") -> str:
    """The audit as an aligned text table, its words in ``lang`` ("en" or "es")."""
    words = _WORDS[_check_lang(lang)]
    body = [[r.document, r.parameter, words.get(r.status, r.status),
             "-" if r.max_rel_err is None else f"{r.max_rel_err:.3g}",
             words["ok"] if r.autograd_vs_fd else words["failed"], r.explain(lang)] for r in rows]
    return _table(list(words["head"]), body)


def format_findings(rows: list[AuditRow], lang: str = "en", width: int = 100) -> str:
    """Each finding under the document's own line that holds it::

        doc002  002_cfa10fcf953ac712.txt, backward()  [W1]
            dw1 = dz1 @ x
          no / batch_size, which dw2 = dz2 @ a1.T / batch_size has: ...
    """
    quoted: dict[Quote, list[str]] = {}
    for r in rows:
        if r.quote is not None:
            quoted.setdefault(r.quote, []).append(r.parameter)
    order = {quote: i for i, quote in enumerate(QUOTES)}
    lines = [_WORDS[_check_lang(lang)]["findings"]]
    for quote, parameters in sorted(quoted.items(), key=lambda item: order.get(item[0], len(order))):
        lines += ["", f"{quote.document}  {quote.source}, {quote.where}  [{', '.join(parameters)}]",
                  f"    {quote.line}"]
        lines += textwrap.wrap(quote.explain(lang), width, initial_indent="  ", subsequent_indent="  ",
                               break_on_hyphens=False)
    return "\n".join(lines)


def format_report(rows: list[AuditRow], lang: str = "en") -> str:
    """What ``tensorgrad audit`` prints: the table, then the findings under the documents' lines."""
    return format_audit(rows, lang) + "\n\n" + format_findings(rows, lang)


def audit_json(rows: list[AuditRow], lang: str = "en") -> str:
    """The audit as a JSON list of {document, parameter, status, max_rel_err, diagnosis, quote}:
    ``quote`` is null or {source, where, line, shows}. ``lang`` ("en" or "es") is the language of
    ``diagnosis`` and ``shows``; the keys and the status codes stay as they are."""
    keys = ("document", "parameter", "status", "max_rel_err")
    return json.dumps([{**{k: getattr(r, k) for k in keys}, "diagnosis": r.explain(lang),
                        "quote": None if r.quote is None else r.quote.to_dict(lang)} for r in rows],
                      ensure_ascii=False, indent=1)
