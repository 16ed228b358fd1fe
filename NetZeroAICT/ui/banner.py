"""The banner every view and panel that shows a synthetic image carries."""

from __future__ import annotations

from .qtcompat import Qt, QtWidgets

SYNTHETIC_TEXT = "SYNTHETIC — digital contrast"


class SyntheticBanner(QtWidgets.QLabel):
    """A bold white-on-red label saying the image is synthetic, with an optional detail line.

    Args:
        detail: e.g. the indication and model version, shown under the main text.
    """

    STYLE = ("QLabel { background-color: #b00020; color: white; font-weight: bold; padding: 6px 10px;"
             " border-radius: 3px; }")

    def __init__(self, detail: str = "", parent=None):
        super().__init__(parent)
        self.setAlignment(Qt.AlignCenter)
        self.setStyleSheet(self.STYLE)
        self.setWordWrap(True)
        self.set_detail(detail)

    def set_detail(self, detail: str) -> None:
        """Show ``detail`` below the main text (empty: main text only)."""
        self.setText(SYNTHETIC_TEXT + (f"\n{detail}" if detail else ""))
        self.setToolTip("This image was computed by a neural network from a non-contrast CT. "
                        "It is not an acquired contrast-enhanced scan. Research use only.")
