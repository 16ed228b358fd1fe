"""The Qt layer runs for real, offscreen, on PySide6."""

from NetZeroAICT.ui.banner import SYNTHETIC_TEXT, SyntheticBanner
from NetZeroAICT.ui.qtcompat import BINDING, prop


def test_banner_renders_and_says_synthetic(qapp, tmp_path):
    banner = SyntheticBanner("aorta · model 1.0")
    banner.resize(320, 60)
    banner.show()
    qapp.processEvents()
    assert BINDING == "PySide6"
    assert prop(banner, "text").startswith(SYNTHETIC_TEXT)
    assert "aorta" in prop(banner, "text")
    image = banner.grab().toImage()
    assert image.width() == 320
    # the banner is red: sample a pixel near the edge (the background, not the text)
    colour = image.pixelColor(4, 30)
    assert colour.red() > 150 and colour.green() < 60
    banner.grab().save(str(tmp_path / "banner.png"))
    banner.set_detail("")
    assert prop(banner, "text") == SYNTHETIC_TEXT
