"""GE2E speaker encoder (resemblyzer's ``pretrained.pt``) run in numpy.

Why hand-written: the model is tiny (3-layer LSTM 40->256, Linear 256->256) and its only
published runtime is torch; a numpy forward pass with the weights read by
:mod:`~pyannote_notebook.engine.torchfile` reproduces it (see "Verified against PyTorch" below)
without the multi-GB dependency. The mel front end reproduces
``librosa.feature.melspectrogram`` defaults as resemblyzer calls it (n_fft 400, hop 160, periodic
Hann window, centred frames with zero padding, power 2, 40 Slaney-normalised Slaney-scale mel
bands from 0 to 8 kHz); librosa itself (and numba) is not needed.

Pipeline per window: normalise to -30 dBFS (increase only) -> mel power spectrogram ->
LSTM (PyTorch gate order i, f, g, o; bias = b_ih + b_hh) -> last hidden state of the last layer
-> Linear -> ReLU -> L2 normalisation. Embeddings are 256-d, non-negative, unit norm.
:meth:`Encoder.embed_utterance` follows resemblyzer's ``embed_utterance``: one mel spectrogram of
the zero-padded utterance cut into 160-frame partials (:func:`partial_slices`).

Verified against PyTorch (2026-11-24): ``scripts/verify_encoder_against_torch.py`` runs
resemblyzer 0.1.4's own ``VoiceEncoder`` under torch 2.13.0+cpu with librosa 0.11.0 mels, in a
separate venv (``PYTHONPATH=/work/main /work/torchcheck/bin/python
scripts/verify_encoder_against_torch.py``), on a seeded 1.6 s harmonic+noise signal and two
espeak-ng 1.51 utterances (en+m3 3.60 s, en+f2 3.12 s). Mel: max |diff| 6.0e-8 / 1.4e-6 / 1.9e-6
(max relative 9.4e-7). Network on identical mel frames, full path per window (``embed_batch``)
and ``embed_utterance``: cosine 1 - 1e-12 or closer, max |diff| <= 4.2e-7 on all 256 dimensions
for every input. (The earlier ``embed_utterance``, which computed one 161-frame mel per partial,
was off by up to 1.5e-2, cosine 0.9991-0.9995; fixed.) Resemblyzer's VAD trimming
(``trim_long_silences``, webrtcvad) is not reproduced: the engine runs its own VAD first. Note
that librosa < 0.10 padded centred frames with ``reflect``; we match librosa >= 0.10
(``constant``); the two paddings give torch embeddings at cosine 0.9986 on the seeded 1.6 s
window and 1.000000 on the espeak utterances (silent edges).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from pyannote_notebook.engine.audio import SAMPLE_RATE
from pyannote_notebook.engine.weights import RESEMBLYZER, locate
from pyannote_notebook.errors import InvalidOption

__all__ = [
    "EMBEDDING_DIM",
    "Encoder",
    "get_encoder",
    "mel_filterbank",
    "mel_spectrogram",
    "partial_slices",
]

N_FFT = 400
HOP = 160
N_MELS = 40
EMBEDDING_DIM = 256
PARTIAL_FRAMES = 160  # resemblyzer hparams.partials_n_frames (1.6 s)
TARGET_DBFS = -30.0
INT16_MAX = 2**15 - 1


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz,
                    min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


@lru_cache(maxsize=4)
def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney mel filterbank ``(n_mels, 1 + n_fft // 2)`` equal to ``librosa.filters.mel``."""
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    n = np.arange(N_FFT)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)).astype(np.float32)  # periodic Hann


def mel_spectrogram(wavs: np.ndarray) -> np.ndarray:
    """Mel power spectrogram of a batch ``(batch, n_samples)`` -> ``(batch, frames, 40)``.

    ``frames = 1 + n_samples // 160`` (centred frames, zero padding), as librosa.
    """
    wavs = np.atleast_2d(np.asarray(wavs, dtype=np.float32))
    pad = N_FFT // 2
    padded = np.pad(wavs, ((0, 0), (pad, pad)))
    from scipy.fft import rfft

    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=1)[:, ::HOP]
    frames = frames * _window()  # (batch, frames, n_fft), float32
    spec = rfft(frames, n=N_FFT, axis=-1)  # complex64: scipy keeps single precision
    power = spec.real**2
    power += spec.imag**2
    return power @ mel_filterbank().T


def normalize_volume(wav: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Scale ``wav`` (or each row of a batch) up to ``target_dbfs``; never turn it down."""
    wav = np.atleast_2d(np.asarray(wav, dtype=np.float32))
    rms = np.sqrt(np.mean((wav.astype(np.float64) * INT16_MAX) ** 2, axis=1))
    with np.errstate(divide="ignore"):
        dbfs = 20 * np.log10(np.maximum(rms, 1e-12) / INT16_MAX)
    change = target_dbfs - dbfs
    gain = np.where(change > 0, 10 ** (np.minimum(change, 120.0) / 20), 1.0)
    gain = np.where(rms > 0, gain, 1.0)
    return (wav * gain[:, None]).astype(np.float32)


@dataclass
class _Layer:
    w_ih_t: np.ndarray  # (in, 1024)
    w_hh_t: np.ndarray  # (256, 1024)
    bias: np.ndarray    # (1024,)


class Encoder:
    """The numpy GE2E encoder. Stateless after construction, so safe to share across threads.

    Use :func:`get_encoder` for the process-wide instance.
    """

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        h = state["lstm.weight_hh_l0"].shape[1]
        # sigmoid(x) = (tanh(x / 2) + 1) / 2: pre-halve the i, f, o gate rows so one tanh call
        # per time step serves all four gates (g keeps its scale)
        # and reorder the gates to i, f, o, g so the three sigmoid gates are one contiguous block
        scale = np.full(4 * h, 0.5, dtype=np.float32)
        scale[2 * h:3 * h] = 1.0
        perm = np.concatenate([np.arange(0, 2 * h), np.arange(3 * h, 4 * h),
                               np.arange(2 * h, 3 * h)])

        def prep(w: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray((w * scale[:, None])[perm].T.astype(np.float32))

        self.layers = [
            _Layer(
                prep(state[f"lstm.weight_ih_l{k}"]),
                prep(state[f"lstm.weight_hh_l{k}"]),
                ((state[f"lstm.bias_ih_l{k}"] + state[f"lstm.bias_hh_l{k}"]) * scale)[perm]
                .astype(np.float32),
            )
            for k in range(3)
        ]
        self.linear_w_t = np.ascontiguousarray(state["linear.weight"].T.astype(np.float32))
        self.linear_b = state["linear.bias"].astype(np.float32)
        self.hidden = self.layers[0].w_hh_t.shape[0]

    @classmethod
    def from_file(cls, path: str | Path) -> Encoder:
        """Build from a legacy ``pretrained.pt`` (restricted reader; see torchfile)."""
        from pyannote_notebook.engine.torchfile import load_legacy_torch

        checkpoint = load_legacy_torch(path)
        return cls(checkpoint["model_state"])

    def forward_mels(self, mels: np.ndarray) -> np.ndarray:
        """Embed a batch of mel spectrograms ``(batch, frames, 40)`` -> ``(batch, 256)``."""
        from threadpoolctl import threadpool_limits

        x = np.ascontiguousarray(np.asarray(mels, dtype=np.float32).transpose(1, 0, 2))
        n_frames, batch, _ = x.shape  # time-major: x[t] is contiguous
        hs = self.hidden
        h = np.zeros((batch, hs), dtype=np.float32)
        with threadpool_limits(limits=1, user_api="blas"):
            for li, layer in enumerate(self.layers):
                gates_x = (x.reshape(n_frames * batch, -1) @ layer.w_ih_t + layer.bias)
                gates_x = gates_x.reshape(n_frames, batch, 4 * hs)
                h = np.zeros((batch, hs), dtype=np.float32)
                c = np.zeros((batch, hs), dtype=np.float32)
                last = li == len(self.layers) - 1
                out = None if last else np.empty((n_frames, batch, hs), dtype=np.float32)
                g = np.empty((batch, 4 * hs), dtype=np.float32)
                for t in range(n_frames):
                    np.matmul(h, layer.w_hh_t, out=g)
                    g += gates_x[t]
                    np.tanh(g, out=g)
                    ifo = g[:, :3 * hs]  # tanh(x / 2) -> sigmoid(x) = (. + 1) / 2
                    ifo += 1.0
                    ifo *= 0.5
                    c *= g[:, hs:2 * hs]
                    c += g[:, :hs] * g[:, 3 * hs:]
                    h = g[:, 2 * hs:3 * hs] * np.tanh(c)
                    if out is not None:
                        out[t] = h
                if out is not None:
                    x = out
        raw = np.maximum(h @ self.linear_w_t + self.linear_b, 0.0)
        norm = np.linalg.norm(raw, axis=1, keepdims=True)
        return (raw / np.maximum(norm, 1e-12)).astype(np.float32)

    def embed_batch(self, wavs: np.ndarray, *, batch_size: int = 128) -> np.ndarray:
        """Embed equal-length 16 kHz windows ``(n, samples)`` -> ``(n, 256)`` unit vectors."""
        wavs = np.atleast_2d(np.asarray(wavs, dtype=np.float32))
        out = np.empty((wavs.shape[0], EMBEDDING_DIM), dtype=np.float32)
        for s in range(0, wavs.shape[0], batch_size):
            chunk = normalize_volume(wavs[s:s + batch_size])
            out[s:s + batch_size] = self.forward_mels(mel_spectrogram(chunk))
        return out

    def embed_utterance(self, wav: np.ndarray, *, rate: float = 1.3,
                        min_coverage: float = 0.75) -> np.ndarray:
        """Embed one utterance exactly as resemblyzer's ``VoiceEncoder.embed_utterance``.

        The waveform is normalised to -30 dBFS (increase only), zero-padded to the end of the
        last partial, turned into ONE mel spectrogram, and cut into partials of
        ``PARTIAL_FRAMES`` (160) frames every ``round(16000 / rate / 160)`` frames (see
        :func:`partial_slices`); the result is the L2-normalised mean of the partial embeddings.
        Returns a ``(256,)`` unit vector.

        Raises
        ------
        InvalidOption
            ``rate`` outside the range resemblyzer accepts (0.625 to 100 per second) or
            ``min_coverage`` outside (0, 1].
        """
        wav = normalize_volume(np.asarray(wav, dtype=np.float32))[0]
        slices = partial_slices(len(wav), rate=rate, min_coverage=min_coverage)
        need = slices[-1] + PARTIAL_FRAMES
        if need * HOP >= len(wav):
            wav = np.pad(wav, (0, need * HOP - len(wav)))
        mel = mel_spectrogram(wav)[0]
        partial = self.forward_mels(np.stack([mel[s:s + PARTIAL_FRAMES] for s in slices]))
        mean = partial.mean(axis=0)
        return (mean / np.linalg.norm(mean)).astype(np.float32)


def partial_slices(n_samples: int, *, rate: float = 1.3, min_coverage: float = 0.75
                   ) -> list[int]:
    """First mel frame of each partial utterance (resemblyzer's ``compute_partial_slices``).

    Partials are ``PARTIAL_FRAMES`` frames (1.6 s) long, start every
    ``round(16000 / rate / 160)`` frames, and the last one is dropped when it covers less than
    ``min_coverage`` of a partial with real samples (unless it is the only one).

    Raises
    ------
    InvalidOption
        ``rate`` or ``min_coverage`` out of range (message names the option).
    """
    if not 0 < min_coverage <= 1:
        raise InvalidOption("min_coverage", f"must be in (0, 1], got {min_coverage}")
    frame_step = int(np.round(SAMPLE_RATE / rate / HOP))
    if not 0 < frame_step <= PARTIAL_FRAMES:
        raise InvalidOption("rate", f"partials per second must give a step of 1 to "
                            f"{PARTIAL_FRAMES} frames (0.625 to 100), got {rate}")
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + frame_step + 1), frame_step))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts = starts[:-1]
    return starts


_encoder: Encoder | None = None
_lock = threading.Lock()


def get_encoder() -> Encoder:
    """Return the process-wide encoder (weights located, verified and read once).

    Raises
    ------
    WeightsMissing
        resemblyzer is not installed (message gives the pip command).
    EngineError
        The weight file does not match the pinned release or cannot be read.
    """
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = Encoder.from_file(locate(RESEMBLYZER))
        return _encoder
