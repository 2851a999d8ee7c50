"""Check the numpy GE2E encoder against resemblyzer's own PyTorch model.

NOT part of the package and not imported by the tests: it needs torch, librosa and resemblyzer,
which pyannote-notebook deliberately does not depend on. Run it in a separate virtualenv::

    python3 -m venv /work/torchcheck
    /work/torchcheck/bin/pip install torch==2.13.0 numpy scipy soundfile librosa
    /work/torchcheck/bin/pip install --no-deps resemblyzer==0.1.4
    PYTHONPATH=/work/main /work/torchcheck/bin/python scripts/verify_encoder_against_torch.py

What it does, for a seeded 1.6 s noise + harmonics signal and two espeak-ng utterances
(``en+m3``, ``en+f2``, 22.05 kHz -> 16 kHz with the engine's own resampler so both sides get
the same samples):

(b) mel power spectrogram: resemblyzer's ``audio.wav_to_mel_spectrogram`` (librosa) versus
    ``encoder.mel_spectrogram``;
(c) the network alone: resemblyzer's ``VoiceEncoder.forward`` (torch) versus
    ``Encoder.forward_mels`` on the SAME librosa mel frames;
(d) the full path waveform -> embedding: (i) one window, as the pipeline uses it
    (``Encoder.embed_batch``) versus resemblyzer ``normalize_volume`` + librosa mel + torch;
    (ii) ``Encoder.embed_utterance`` versus ``VoiceEncoder.embed_utterance`` (1.6 s partials at
    1.3 per second) on the volume-normalised waveform;
(e) prints the torch embeddings' first 8 dimensions as a Python literal for
    tests/engine/test_encoder.py.

The real resemblyzer code is used throughout. Its ``audio`` module imports ``webrtcvad`` (a
broken source build, only used by ``trim_long_silences``, the VAD-based silence trimming of
``preprocess_wav``); a stub module stands in for it, and ``trim_long_silences`` is not called
(the engine runs its own VAD before embedding). Exit status 1 if any embedding cosine is below
0.99999 or any element differs by more than 1e-4.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

ESPEAK_INPUTS = {
    "espeak_m3": ("en+m3", "The quick brown fox jumps over the lazy dog near the river bank."),
    "espeak_f2": ("en+f2", "She sells sea shells by the sea shore every summer morning."),
}
COSINE_MIN = 0.99999
ATOL = 1e-4


def seeded_signal() -> np.ndarray:
    """1.6 s at 16 kHz: a 130 Hz harmonic tone (8 partials, 1/k amplitudes) with a 3 Hz
    amplitude modulation plus white noise, at about -37 dBFS (so volume normalisation scales it
    up). Duplicated verbatim in tests/engine/test_encoder.py (checked there by SHA-256)."""
    rng = np.random.default_rng(20240611)
    t = np.arange(25600) / 16000.0
    tone = sum(np.sin(2 * np.pi * 130.0 * k * t + 0.7 * k) / k for k in range(1, 9))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3.0 * t)
    x = 0.02 * envelope * tone + 0.004 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def espeak_utterance(voice: str, text: str) -> tuple[np.ndarray, str]:
    """espeak-ng utterance at 16 kHz (float32) and the SHA-256 of espeak's 22.05 kHz file."""
    import soundfile as sf

    from pyannote_notebook.engine.audio import to_mono_16k

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "u.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        samples, sr = sf.read(path, dtype="float32")
    return to_mono_16k(samples, sr), digest


def sha(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


def compare(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return cos, float(np.abs(a - b).max())


def load_resemblyzer():
    """Import the real resemblyzer 0.1.4 code with a stub for its unused webrtcvad import."""
    stub = types.ModuleType("webrtcvad")

    class Vad:  # pragma: no cover - only trim_long_silences would call it
        def __init__(self, *a, **k):
            raise RuntimeError("webrtcvad stub: trim_long_silences is not used here")

    stub.Vad = Vad
    sys.modules.setdefault("webrtcvad", stub)
    import resemblyzer
    from resemblyzer import audio
    from resemblyzer.voice_encoder import VoiceEncoder

    return resemblyzer, audio, VoiceEncoder


def main() -> int:
    import librosa
    import torch

    torch.set_num_threads(1)
    resemblyzer, r_audio, VoiceEncoder = load_resemblyzer()
    from pyannote_notebook.engine.encoder import Encoder, mel_spectrogram
    from pyannote_notebook.engine.weights import RESEMBLYZER, locate

    weights = Path(resemblyzer.__file__).parent / "pretrained.pt"
    model = VoiceEncoder(device="cpu", verbose=False, weights_fpath=weights)
    model.eval()
    # VoiceEncoder loads with strict=False: make sure every parameter really came from the file
    state = torch.load(weights, map_location="cpu", weights_only=False)["model_state"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing, f"parameters not in pretrained.pt: {missing}"
    ours = Encoder.from_file(locate(RESEMBLYZER))
    assert Path(locate(RESEMBLYZER)).read_bytes() == weights.read_bytes()

    print(f"torch {torch.__version__}, librosa {librosa.__version__}, numpy {np.__version__}, "
          f"resemblyzer 0.1.4 at {weights.parent}")
    print(f"unused checkpoint keys: {unexpected}")
    espeak_version = subprocess.run(["espeak-ng", "--version"], check=False,
                                    capture_output=True, text=True).stdout.strip()
    print(espeak_version)

    inputs: dict[str, np.ndarray] = {"seeded": seeded_signal()}
    print(f"seeded: {inputs['seeded'].size} samples, sha256 {sha(inputs['seeded'])}")
    for name, (voice, text) in ESPEAK_INPUTS.items():
        wav, digest = espeak_utterance(voice, text)
        inputs[name] = wav
        print(f"{name}: {wav.size} samples at 16 kHz; espeak wav sha256 {digest}; "
              f"16 kHz float32 sha256 {sha(wav)}")

    ok = True
    full_seeded: dict[int, float] = {}
    refs: dict[str, dict[str, list[float]]] = {}

    def check(label: str, ref: np.ndarray, got: np.ndarray) -> None:
        nonlocal ok
        cos, diff = compare(ref, got)
        good = cos >= COSINE_MIN and diff <= ATOL
        ok &= good
        print(f"  {label:<28} cosine {cos:.9f} (1 - cos {1 - cos:.1e})  max|diff| {diff:.2e}  "
              f"{'ok' if good else 'FAIL'}")

    for name, wav in inputs.items():
        print(f"\n== {name} ({wav.size / 16000:.3f} s)")
        norm = r_audio.normalize_volume(wav, r_audio.audio_norm_target_dBFS, increase_only=True)

        # (b) mel front end, same samples in
        mel_ref = r_audio.wav_to_mel_spectrogram(norm)  # (frames, 40) float32, librosa
        mel_ours = mel_spectrogram(np.asarray(norm, dtype=np.float32))[0]
        assert mel_ref.shape == mel_ours.shape, (mel_ref.shape, mel_ours.shape)
        d = np.abs(mel_ref.astype(np.float64) - mel_ours)
        rel = d / np.maximum(np.abs(mel_ref), 1e-3 * mel_ref.max())
        print(f"  mel {mel_ref.shape}: max|diff| {d.max():.3e} (mel max {mel_ref.max():.3e}, "
              f"max relative {rel.max():.2e})")
        # librosa < 0.10 (current when resemblyzer 0.1.4 was released) padded with 'reflect'
        reflect = librosa.feature.melspectrogram(y=norm, sr=16000, n_fft=400, hop_length=160,
                                                 n_mels=40, pad_mode="reflect")
        reflect = reflect.astype(np.float32).T
        with torch.no_grad():
            e_reflect = model(torch.from_numpy(reflect[None])).numpy()[0]
            e_ref_mel = model(torch.from_numpy(mel_ref[None])).numpy()[0]
        cos_pad, _ = compare(e_reflect, e_ref_mel)
        print(f"  (info: librosa<0.10 'reflect' padding vs 'constant': torch embedding cosine "
              f"{cos_pad:.6f})")

        # (c) network only, identical mel frames
        check("network on librosa mel", e_ref_mel, ours.forward_mels(mel_ref[None])[0])

        # (d-i) full path, one window (what the pipeline does)
        got_window = ours.embed_batch(wav[None])[0]
        check("full path, one window", e_ref_mel, got_window)

        # (d-ii) full path, resemblyzer's embed_utterance (partials)
        ref_utt = model.embed_utterance(np.asarray(norm, dtype=np.float32))
        got_utt = ours.embed_utterance(wav)
        check("full path, embed_utterance", ref_utt, got_utt)

        for path, e in (("window", e_ref_mel), ("utterance", ref_utt)):
            refs[f"{name}/{path}"] = {"head": [round(float(v), 6) for v in e[:8]],
                                      "argmax": int(np.argmax(e)),
                                      "max": round(float(e.max()), 6),
                                      "l1": round(float(np.abs(e).sum()), 6)}
        if name == "seeded":
            full_seeded = {i: round(float(v), 6) for i, v in enumerate(e_ref_mel) if v > 0}

    print("\n# torch reference: seeded window, every non-zero dimension (6 decimals):")
    print(f"TORCH_SEEDED_WINDOW = {full_seeded!r}")
    print("\n# torch reference values (first 8 dims, argmax, max, L1 norm; 6 decimals):")
    print("TORCH_REFERENCE = {")
    for name, r in refs.items():
        print(f"    {name!r}: {r!r},")
    print("}")
    print("\nALL OK" if ok else "\nMISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
