"""Speaker identification: diarize, then match each speaker to enrolled voiceprints.

Scores: the cosine similarity ``c`` between a speaker's centroid embedding (mean of its window
embeddings) and a voiceprint is mapped to 0-100 by ``round(100 * clip((c - 0.5) / 0.5, 0, 1))``.
With the GE2E encoder, different speakers sit around c = 0.6-0.8 (score 20-60) and the same
speaker around 0.85-0.95 (70-90), so a ``threshold`` of about 60-70 separates them on clean
audio. The mapping is this engine's own calibration, not the cloud's.

Matching: ``exclusive`` (default) solves the assignment speakers x voiceprints maximising the
total score (Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`) so no voiceprint
is given to two speakers; otherwise each speaker takes its best voiceprint. A pair is kept only
when its score is at least ``threshold`` (0 keeps every assigned pair).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pyannote_notebook.engine.audio import load_audio
from pyannote_notebook.engine.pipeline import format_output, run_pipeline, validate_counts
from pyannote_notebook.engine.voiceprints import decode_voiceprint
from pyannote_notebook.errors import InvalidOption

__all__ = ["identify", "scores_from_cosine", "match_speakers", "parse_voiceprints"]


def scores_from_cosine(cos: np.ndarray) -> np.ndarray:
    """Map cosine similarities to integer scores 0-100 (see the module docstring)."""
    return np.rint(100 * np.clip((np.asarray(cos) - 0.5) / 0.5, 0.0, 1.0)).astype(int)


def parse_voiceprints(voiceprints: Mapping[str, str] | Sequence[Mapping[str, str]]
                      ) -> tuple[list[str], np.ndarray]:
    """Accept ``{label: voiceprint}`` or ``[{"label", "voiceprint"}]``; return labels and a
    ``(n, 256)`` matrix.

    Raises
    ------
    InvalidOption
        Empty list, duplicate label, missing fields, or a string that is not a local voiceprint
        (the option is named ``voiceprints[i]``).
    """
    if isinstance(voiceprints, Mapping):
        items = [{"label": k, "voiceprint": v} for k, v in voiceprints.items()]
    else:
        items = list(voiceprints)
    if not items:
        raise InvalidOption("voiceprints", "at least one voiceprint is needed")
    labels: list[str] = []
    vecs = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or "label" not in item or "voiceprint" not in item:
            raise InvalidOption(f"voiceprints[{i}]", "expected {label, voiceprint}")
        label = str(item["label"])
        if label in labels:
            raise InvalidOption(f"voiceprints[{i}].label", f"duplicate label {label!r}")
        try:
            vecs.append(decode_voiceprint(item["voiceprint"]))
        except Exception as exc:  # EngineError from decode
            raise InvalidOption(f"voiceprints[{i}].voiceprint", str(exc)) from exc
        labels.append(label)
    dims = {v.size for v in vecs}
    if len(dims) != 1:
        raise InvalidOption("voiceprints", "voiceprints of different dimensions")
    return labels, np.stack(vecs)


def match_speakers(scores: np.ndarray, *, exclusive: bool = True, threshold: float = 0.0
                   ) -> list[int | None]:
    """Index of the matched voiceprint for each speaker (row), or None.

    ``scores`` is ``(n_speakers, n_voiceprints)`` of 0-100 values.
    """
    n_spk, n_vp = scores.shape
    match: list[int | None] = [None] * n_spk
    if exclusive:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(-scores.astype(float))
        for r, c in zip(rows, cols):
            match[r] = int(c)
    else:
        for r in range(n_spk):
            match[r] = int(np.argmax(scores[r]))
    return [m if m is not None and scores[r, m] >= threshold else None
            for r, m in enumerate(match)]


def identify(audio: str | Path | np.ndarray,
             voiceprints: Mapping[str, str] | Sequence[Mapping[str, str]], *,
             matching_exclusive: bool = True, matching_threshold: float = 0.0,
             num_speakers: int | None = None, min_speakers: int | None = None,
             max_speakers: int | None = None, exclusive: bool = True,
             sample_rate: int | None = None) -> dict:
    """Diarize ``audio`` and name its speakers with ``voiceprints``.

    Parameters
    ----------
    audio : str, Path or numpy.ndarray
        File or samples (with ``sample_rate``), laid out as for
        :func:`pyannote_notebook.engine.audio.to_mono_16k`.
    voiceprints : dict or list
        ``{label: voiceprint}`` or the wire form ``[{"label", "voiceprint"}]``; voiceprints
        come from :func:`pyannote_notebook.engine.voiceprint`.
    matching_exclusive : bool
        At most one speaker per voiceprint (Hungarian assignment).
    matching_threshold : float
        Minimum score (0-100) for a match.
    num_speakers, min_speakers, max_speakers, exclusive, sample_rate
        As :func:`pyannote_notebook.engine.diarize`.

    Returns
    -------
    dict
        The diarization output plus ``identification`` (one entry per turn: ``speaker`` is the
        matched label or the diarization label, ``diarizationSpeaker``, ``match`` or None) and
        ``voiceprints`` (per diarization speaker: ``match`` and ``confidence`` {label: score}).

    Raises
    ------
    InvalidOption
        Bad voiceprints, threshold outside 0-100 or inconsistent counts.
    AudioError, WeightsMissing
        As :func:`pyannote_notebook.engine.diarize`.
    """
    if not 0 <= float(matching_threshold) <= 100:
        raise InvalidOption("matching_threshold", f"must be within 0-100, got {matching_threshold}")
    labels, vp = parse_voiceprints(voiceprints)
    validate_counts(num_speakers, min_speakers, max_speakers)
    wav, _ = load_audio(audio, sample_rate)
    d = run_pipeline(wav, num_speakers=num_speakers, min_speakers=min_speakers,
                     max_speakers=max_speakers)
    out = format_output(d, exclusive=exclusive)
    # diarization label of each internal cluster id, by first appearance (as format_output)
    names: dict[int, str] = {}
    for _, _, lab in sorted(d.turns):
        names.setdefault(lab, f"SPEAKER_{len(names):02d}")
    cluster_ids = list(names)
    if cluster_ids:
        cents = []
        for cid in cluster_ids:
            sel = d.embeddings[d.window_labels == cid]
            c = sel.mean(axis=0) if len(sel) else np.zeros(vp.shape[1], dtype=np.float32)
            cents.append(c / max(float(np.linalg.norm(c)), 1e-12))
        scores = scores_from_cosine(np.stack(cents) @ vp.T)
        matches = match_speakers(scores, exclusive=matching_exclusive,
                                 threshold=float(matching_threshold))
    else:
        scores, matches = np.zeros((0, len(labels)), dtype=int), []
    by_name = {names[cid]: (None if m is None else labels[m]) for cid, m in
               zip(cluster_ids, matches)}
    out["identification"] = [
        {"speaker": by_name[s["speaker"]] or s["speaker"], "start": s["start"], "end": s["end"],
         "diarizationSpeaker": s["speaker"], "match": by_name[s["speaker"]]}
        for s in out["diarization"]
    ]
    out["voiceprints"] = [
        {"speaker": names[cid], "match": by_name[names[cid]],
         "confidence": {lab: int(scores[i, j]) for j, lab in enumerate(labels)}}
        for i, cid in enumerate(cluster_ids)
    ]
    return out
