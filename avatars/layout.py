"""Where things go in a landscape (1280×720) or a portrait (720×1280) frame."""

from __future__ import annotations

from dataclasses import dataclass

from avatars.gestures import ArmPose

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    head: tuple[int, int]  # the host's head centre at rest, frame px
    scale: float
    char_box: Box  # redrawn every frame; everything else is cached
    table_y: int  # the counter's top edge: the host is cut at the waist here
    card: Box
    countdown: Box  # inside the card
    caption: Box
    point: ArmPose  # the near arm aimed at the card
    card_gaze: tuple[float, float]  # where the eyes go while presenting

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    def mouth_box(self) -> Box:
        hx, hy = self.head
        s = self.scale
        return (int(hx - 45 * s), int(hy + 40 * s), int(hx + 45 * s), int(hy + 95 * s))


LANDSCAPE = Layout(
    width=1280,
    height=720,
    head=(410, 262),
    scale=1.0,
    char_box=(100, 60, 756, 612),
    table_y=612,
    card=(760, 90, 1240, 560),
    countdown=(776, 486, 1224, 546),
    caption=(140, 640, 1140, 700),
    point=ArmPose(45.0, 105.0, "point"),
    card_gaze=(0.9, 0.05),
)

PORTRAIT = Layout(
    width=720,
    height=1280,
    head=(360, 440),
    scale=1.1,
    char_box=(16, 236, 716, 826),
    table_y=826,
    # card and caption stay inside x 56..664: a phone shows this frame full-screen
    # (object-fit: cover) and a 9:19.5 screen crops about 64 px off each side
    card=(56, 836, 664, 1106),
    countdown=(330, 1044, 648, 1096),
    caption=(56, 1120, 664, 1186),
    # elbow out, forearm down: the finger points at the card below, inside the frame
    point=ArmPose(80.0, 18.0, "point"),
    card_gaze=(0.45, 0.8),
)


def layout_for(width: int, height: int) -> Layout:
    if (width, height) == (LANDSCAPE.width, LANDSCAPE.height):
        return LANDSCAPE
    if (width, height) == (PORTRAIT.width, PORTRAIT.height):
        return PORTRAIT
    raise ValueError(f"unsupported frame size {width}x{height}; use 1280x720 or 720x1280")
