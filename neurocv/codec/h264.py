"""The few H.264 bitstream fields the reader needs, read from the sequence parameter set (SPS, ITU-T H.264 7.3.2.1.1).

``max_num_ref_frames`` says how many earlier frames a P-slice may predict from. FFmpeg's exported motion vectors
carry no reference index (``AVMotionVector.source`` is only -1 or +1), so a stream that allows more than one
reference frame cannot be traced: its vectors may point two or more frames back while the reader composes them as
if they pointed to the previous frame. The SPS is found in ``avcC`` extradata (MP4, MKV, MOV) or in-band in Annex B
streams (raw ``.h264``, MPEG-TS), whose NAL units start with ``00 00 01``.
"""

from __future__ import annotations

__all__ = ["sps_max_ref_frames", "sps_in_extradata", "sps_nals", "avcc_length_size", "packet_nals",
           "ReferenceScan"]

_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


class _Bits:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise ValueError("SPS ends early")
            v = (v << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _unescape(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (``00 00 03`` -> ``00 00``)."""
    out, zeros = bytearray(), 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def sps_max_ref_frames(nal: bytes) -> int:
    """``max_num_ref_frames`` of one SPS NAL unit (header byte included). Raises ValueError when it does not parse."""
    if not nal or nal[0] & 0x1F != 7:
        raise ValueError("not an SPS NAL unit")
    r = _Bits(_unescape(nal[1:]))
    profile = r.u(8)
    r.u(16)  # constraint flags, reserved bits, level_idc
    r.ue()   # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        if r.ue() == 3:   # chroma_format_idc
            r.u(1)        # separate_colour_plane_flag
        r.ue()
        r.ue()            # bit depths
        r.u(1)            # qpprime_y_zero_transform_bypass_flag
        if r.u(1):        # seq_scaling_matrix_present_flag
            for i in range(8 if profile != 244 else 12):
                if r.u(1):
                    last = nxt = 8
                    for _ in range(16 if i < 6 else 64):
                        if nxt:
                            nxt = (last + r.se()) % 256
                        last = nxt or last
    r.ue()                # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.u(1)
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    elif poc_type != 2:
        raise ValueError(f"bad pic_order_cnt_type {poc_type}")
    return r.ue()


def avcc_length_size(extradata: bytes | None) -> int | None:
    """NAL length-prefix size of an ``avcC`` record, None when ``extradata`` is not one (Annex B or empty)."""
    if extradata and len(extradata) >= 7 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return None


def _annexb_nals(data: bytes):
    i, n = 0, len(data)
    starts = []
    while True:
        i = data.find(b"\x00\x00\x01", i)
        if i < 0:
            break
        starts.append(i + 3)
        i += 3
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else n
        yield data[s:end].rstrip(b"\x00") if k + 1 < len(starts) else data[s:end]


def sps_in_extradata(extradata: bytes | None) -> list[bytes]:
    """SPS NAL units held in a stream's extradata (``avcC`` record or Annex B)."""
    if not extradata:
        return []
    if avcc_length_size(extradata) is not None:
        out, i = [], 6
        count = extradata[5] & 0x1F
        for _ in range(count):
            if i + 2 > len(extradata):
                break
            length = int.from_bytes(extradata[i:i + 2], "big")
            out.append(extradata[i + 2:i + 2 + length])
            i += 2 + length
        return out
    return [n for n in _annexb_nals(extradata) if n and n[0] & 0x1F == 7]


def packet_nals(data: bytes, length_size: int | None) -> list[bytes]:
    """NAL units of one packet: ``length_size``-prefixed (``avcC`` streams) where the lengths tile the packet
    exactly, else Annex B (a 4-byte length of 256-511 reads ``00 00 01 xx``, so the prefix alone cannot tell)."""
    if length_size is not None:
        nals, i = [], 0
        while i + length_size <= len(data):
            length = int.from_bytes(data[i:i + length_size], "big")
            i += length_size
            if length == 0 or i + length > len(data):
                break
            nals.append(data[i:i + length])
            i += length
        if i == len(data) and nals:
            return nals
    return [n for n in _annexb_nals(data) if n]


def sps_nals(nals: list[bytes]) -> list[bytes]:
    """The SPS NAL units among a packet's NAL units (from :func:`packet_nals`)."""
    return [n for n in nals if n[0] & 0x1F == 7]


class ReferenceScan:
    """Follows ``nal_ref_idc`` of the coded slices, packet by packet in decode order.

    A frame whose slices all have ``nal_ref_idc == 0`` is not kept as a reference, so the next P-frame of the GOP
    predicts from an older frame even with ``max_num_ref_frames == 1``: ``skips`` becomes True when a
    non-reference frame is followed by another frame before the next keyframe."""

    def __init__(self):
        self.skips = False
        self._pending = False

    def add(self, nals: list[bytes], keyframe: bool) -> None:
        slices = [n[0] for n in nals if n[0] & 0x1F in (1, 5)]
        if not slices:
            return
        if keyframe:
            self._pending = False
        elif self._pending:
            self.skips = True
        if all((h >> 5) & 3 == 0 for h in slices):
            self._pending = True
