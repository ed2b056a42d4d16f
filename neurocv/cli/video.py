"""`neurocv` commands on one video: ``info`` (codec, GOP layout, traceable?), ``extract`` (the compressed-domain
arrays to an .npz), ``show`` (Fig. 2's pictures), ``transcode`` (re-encode to the paper's form)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional

import typer

from ..errors import ConfigError
from ._common import check_out_dir, check_out_file, err, out, parse_size


def _frame_count(video: Path) -> int:
    """The video's frame count for a warning, or 0 where it cannot be read (the reader reports that itself)."""
    from ..codec import probe

    try:
        return int(probe(video).n_frames)
    except Exception:  # noqa: BLE001
        return 0


def _gop_layout(types) -> str:
    letters = {1: "I", 2: "P", 3: "B"}
    s = "".join(letters.get(int(t), "?") for t in types)
    return " ".join(s[i:j] for i, j in zip([0] + [k for k in range(1, len(s)) if s[k] == "I"],
                                           [k for k in range(1, len(s)) if s[k] == "I"] + [len(s)]))


def info(video: Path, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Codec, size, frame count, GOP layout (I/P/B positions), B-frames and H.264's reference frame count."""
    import numpy as np

    from ..codec import scan_picture_types

    index, types = scan_picture_types(video)
    result = {
        "video": str(video), "codec": index.codec, "width": index.width, "height": index.height,
        "fps": round(index.fps, 3), "frames": index.n_frames,
        "i_frames": np.flatnonzero(types == 1).tolist(), "p_frames": int((types == 2).sum()),
        "b_frames": int((types == 3).sum()), "has_b_frames": bool((types == 3).any() or index.reordered),
        "gop_sizes": np.diff(np.r_[np.flatnonzero(types == 1), len(types)]).tolist(),
        "ref_frames": index.ref_frames,  # H.264: the SPS's max_num_ref_frames (neurocv traces only 1); else null
    }
    from ..codec.reader import traceable_reason

    why = traceable_reason(index)
    result.update(traceable=why is None, not_traceable_because=why)
    if as_json:
        print(json.dumps(result))
        return
    for key in ("codec", "width", "height", "fps", "frames", "p_frames", "b_frames", "has_b_frames"):
        out.print(f"[bold]{key:>12}[/]  {result[key]}")
    if index.ref_frames is not None:
        out.print(f"[bold]{'ref_frames':>12}[/]  {index.ref_frames}")
    out.print(f"[bold]{'I-frames at':>12}[/]  {result['i_frames']}")
    out.print(f"[bold]{'GOP layout':>12}[/]  {_gop_layout(types)}", soft_wrap=True)
    from rich.markup import escape

    out.print(f"[bold]{'traceable':>12}[/]  " + ("yes" if why is None else "no: " + escape(why)), highlight=False)


def extract(
    video: Path,
    output: Path = typer.Option(..., "-o", "--output", help="Output .npz file."),
    segments: int = typer.Option(8, "--segments", "-n", min=1, help="Number of segments (one P-frame each)."),
    all_frames: bool = typer.Option(False, "--all", help="Every P-frame instead of N segments."),
    no_accumulate: bool = typer.Option(False, "--no-accumulate", help="Frame-to-frame MV/residual, not traced."),
    size: Optional[str] = typer.Option(None, "--size", help="Resize to WxH (default: native size)."),
):
    """Write iframes, mvs, residuals, frame_index and gop_index of a video to an .npz file."""
    from .._io import atomic_savez
    from ..codec import read_clip

    wh = parse_size(size)
    check_out_file(output, "-o")
    n_frames = _frame_count(video)
    if not all_frames and n_frames and segments > n_frames:
        err.print(f"warning: {segments} segments from a {n_frames}-frame video: P-frames will repeat",
                  highlight=False)
    clip = read_clip(video, segments, accumulate=not no_accumulate, all_pframes=all_frames, size=wh)
    atomic_savez(output, compress=False, **clip.arrays())
    h, w = clip.iframes.shape[1:3]
    err.print(f"wrote {output}: {len(clip)} triplets at {w}x{h}, frames {clip.frame_index.tolist()}")


def show(video: Path, output: Path = typer.Option(..., "-o", "--output", help="Folder for the PNGs."),
         frames: int = typer.Option(4, "--frames", min=1, help="How many sampled P-frames to draw.")):
    """PNGs like the paper's Fig. 2: I-frame, raw and accumulated motion, raw and accumulated residuals."""
    from ..viz import show_video

    check_out_dir(output, "-o")
    for p in show_video(video, output, frames):
        print(p)


def transcode(
    src: Path, dst: Path,
    size: str = typer.Option("340x256", "--size", help="WxH, or 'native'."),
    gop: int = typer.Option(12, "--gop", min=1, help="An I-frame every N frames."),
    codec: Literal["mpeg4", "h264"] = typer.Option("mpeg4", "--codec", help="mpeg4 (MPEG-4 Part 2) or h264."),
    bframes: int = typer.Option(0, "--bframes", min=0, help="Maximum consecutive B-frames (0: none)."),
    qscale: int = typer.Option(2, "--qscale", min=1, max=31, help="Fixed quantiser (1 best, 31 worst)."),
):
    """Re-encode to the paper's form: MPEG-4 Part 2, GOP 12, no B-frames, 340x256."""
    from ..codec.encode import transcode as _transcode

    wh = parse_size(size, even=True)
    check_out_file(dst, "OUT")
    if src.exists() and dst.exists() and src.resolve() == dst.resolve():
        raise ConfigError(f"{dst}: is the input itself; write to another file (the input is read while writing)")
    result = _transcode(src, dst, size=wh, gop_size=gop, codec=codec, max_b_frames=bframes,
                        qscale=qscale)
    err.print(f"wrote {dst}: {result}")


#: this stage's commands, by name, in the order ``neurocv --help`` lists them
COMMANDS = {"info": info, "extract": extract, "show": show, "transcode": transcode}
