"""A fast ProcessModel for ``lava.proc.conv.Conv``: im2col + one BLAS matmul per group over the strided outputs only.

Lava's own Python model (``lava.proc.conv.models``) loops scipy ``convolve2d`` over every (out, in) channel pair and,
for stride > 1, computes the full-resolution result and keeps every stride-th value. :class:`ConvPlan` computes the
same true convolution (Lava layout: input ``(W, H, C_in)``, weight ``(C_out, kW, kH, C_in / groups)``, output
``(W_out, H_out, C_out)``) as ``cols (W_out * H_out, kW * kH * C_in/g) @ flipped_weight.T`` for each group, reading the
windows straight out of a preallocated zero-padded buffer (strides, padding, dilation and groups as Lava's).

Equality with Lava's model (tested against it on random shapes): integer messages (``fixed_pt``) are bit-exact (both
sum exactly in float64, then cast and wrap to 24 bits as Lava's ``signed_clamp``); float messages (``floating_pt``)
differ only by the summation order, ~1e-15 relative. Binary input (``num_message_bits == 0``) is turned into 0/1 as
Lava's ``astype(bool)`` does.

Select it in the run config: ``Loihi2SimCfg(..., exception_proc_model_map={Conv: PyConvFastFloat})`` (or
``PyConvFastFixed`` with ``select_tag="fixed_pt"``).
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.conv.process import Conv

__all__ = ["ConvPlan", "signed_wrap", "PyConvFastFloat", "PyConvFastFixed"]


def _pair(v) -> tuple[int, int]:
    a = np.atleast_1d(np.asarray(v)).astype(int).ravel()
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def signed_wrap(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap of integers to ``bits`` bits (Lava's ``signed_clamp``)."""
    base = 1 << bits
    return (x + base // 2) % base - base // 2


class ConvPlan:
    """One convolution, prepared once: ``plan(x (W, H, C_in)) -> (W_out, H_out, C_out)`` float64 (the sum, exact
    for integer inputs and weights while it stays below 2^53), or float32 where that is exact too (0/1 input,
    integer weights, ``sum |w| < 2^24``). ``binary`` turns the input into 0/1 first. The result is a buffer
    reused by the next call."""

    def __init__(self, weight: np.ndarray, input_shape, stride=1, padding=0, dilation=1, groups: int = 1,
                 binary: bool = False):
        w = np.asarray(weight, np.float64)
        if w.ndim != 4:
            raise ValueError(f"Conv weight must be (C_out, kW, kH, C_in/groups), got {w.shape}")
        self.input_shape = tuple(int(v) for v in input_shape)
        win, hin, cin = self.input_shape
        cout, kw, kh, cg = w.shape
        g = int(np.asarray(groups).ravel()[0])
        if cin % g or cout % g or cin // g != cg:
            raise ValueError(f"Conv groups={g}: input channels {cin} and weight {w.shape} do not agree")
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        (sx, sy), (px, py), (dx, dy) = self.stride, self.padding, self.dilation
        wo = (win + 2 * px - dx * (kw - 1) - 1) // sx + 1
        ho = (hin + 2 * py - dy * (kh - 1) - 1) // sy + 1
        if wo < 1 or ho < 1:
            raise ValueError(f"Conv output would be {wo} x {ho} for input {self.input_shape} and kernel {kw} x {kh}")
        self.output_shape = (wo, ho, cout)
        self.groups, self.binary = g, binary
        # true convolution: flip the kernel, then it is a cross-correlation; one (kW*kH*C_g, C_out_g) matrix a group
        flipped = w[:, ::-1, ::-1, :]
        og = cout // g
        w_cols = [flipped[k * og:(k + 1) * og].reshape(og, -1).T for k in range(g)]
        self.row_abs_sum = max(float(np.abs(c).sum(0).max()) for c in w_cols)   # max over outputs of sum |w|
        # 0/1 input and integer weights: every partial sum is an integer below sum|w|; under 2^24 float32 is exact
        # (and its matmul and im2col copy cost half)
        exact32 = binary and bool(np.all(w == np.round(w))) and self.row_abs_sum < 1 << 24
        self.dtype = np.float32 if exact32 else np.float64
        self.w_cols = [np.ascontiguousarray(c, self.dtype) for c in w_cols]
        self.padded = np.zeros((win + 2 * px, hin + 2 * py, cin), self.dtype)
        s0, s1, s2 = self.padded.strides
        self._windows = np.lib.stride_tricks.as_strided(
            self.padded, shape=(wo, ho, kw, kh, cin), strides=(sx * s0, sy * s1, dx * s0, dy * s1, s2), writeable=False)
        self._inner = (slice(px, px + win), slice(py, py + hin))
        self._cols = np.empty((wo, ho, kw, kh, cin), self.dtype) if g == 1 else None
        self._out = np.empty((wo * ho, cout), self.dtype)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        inner = self.padded[self._inner]
        if self.binary:
            np.not_equal(x, 0, out=inner, casting="unsafe")
        else:
            inner[...] = x
        wo, ho, cout = self.output_shape
        if self.groups == 1:
            np.copyto(self._cols, self._windows)                # the im2col copy, into a buffer kept between steps
            np.matmul(self._cols.reshape(wo * ho, -1), self.w_cols[0], out=self._out)
        else:
            cg = self.input_shape[2] // self.groups
            og = cout // self.groups
            for k, wk in enumerate(self.w_cols):
                cols = self._windows[..., k * cg:(k + 1) * cg].reshape(wo * ho, -1)
                np.matmul(cols, wk, out=self._out[:, k * og:(k + 1) * og])
        return self._out.reshape(wo, ho, cout)


class _PyConvFast(PyLoihiProcessModel):
    """Same step as Lava's ``AbstractPyConvModel``: send the previous step's result, then convolve this step's
    input (one step of delay)."""

    kernel_size: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=8)
    stride: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=8)
    padding: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=8)
    dilation: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=8)
    groups: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=8)
    num_message_bits: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=5)
    weight_exp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    num_weight_bits: np.ndarray = LavaPyType(np.ndarray, np.int8, precision=5)
    _plan: ConvPlan | None = None

    def _convolve(self, s_in: np.ndarray) -> np.ndarray:
        if self._plan is None:
            self._plan = ConvPlan(self.weight, self.s_in.shape, self.stride, self.padding, self.dilation,
                                  self.groups, binary=int(self.num_message_bits[0]) == 0)
        return self._plan(s_in)

    def run_spk(self) -> None:
        self.a_out.send(self.a_buf)
        self.a_buf = self._finish(self._convolve(self.s_in.recv()))

    def _finish(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@implements(proc=Conv, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyConvFastFloat(_PyConvFast):
    """float64 sums, as ``lava.proc.conv.models.PyConvModelFloat``."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    a_buf: np.ndarray = LavaPyType(np.ndarray, float)
    weight: np.ndarray = LavaPyType(np.ndarray, float)

    def _finish(self, a: np.ndarray) -> np.ndarray:
        return a.copy()


@implements(proc=Conv, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyConvFastFixed(_PyConvFast):
    """Integer sums wrapped to 24 bits, as ``lava.proc.conv.models.PyConvModelFixed``."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    a_buf: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    weight: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)

    def _finish(self, a: np.ndarray) -> np.ndarray:
        return signed_wrap(a.astype(np.int32), 24)
