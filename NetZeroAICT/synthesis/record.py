"""The run record: what went in, which model, where it ran, how long, how much memory and energy, and the
contrast footprint avoided.

Energy is measured with Intel/AMD RAPL (``/sys/class/powercap/*/energy_uj``) when the files are readable;
otherwise it is estimated from the process' CPU time with the Green Algorithms method (Lannelongue, Grealey
& Inouye, Adv. Sci. 2021): cores × power per core × utilisation + memory × 0.3725 W/GB, over the wall time.
Every number the estimate uses is written into the record with its source and can be changed.
"""

from __future__ import annotations

import glob
import os
import platform
import resource
import time
from dataclasses import asdict, dataclass

#: Defaults for the footprint, each with where it comes from. Change them with :class:`FootprintSettings`.
FOOTPRINT_SOURCES = {
    "grid_g_co2e_per_kwh": "IEA, Global Energy & CO2 Status Report 2019: world average 475 g CO2/kWh of electricity",
    "ct_exam_kg_co2e": "McAlister et al., The Lancet Regional Health – Western Pacific 2022;24:100459: life-cycle "
                       "carbon footprint of one CT scan ≈ 9.2 kg CO2e (used as the contrast-enhanced examination "
                       "avoided)",
    "iodine_g_per_exam": "typical CT angiography dose: ≈ 85 mL of contrast at 350 mg iodine/mL ≈ 30 g iodine",
    "contrast_ml_per_exam": "typical CT angiography: 60–100 mL of iodinated contrast medium",
    "cpu_w_per_core": "Green Algorithms (Lannelongue et al. 2021) typical TDP per core of server CPUs ≈ 10–15 W; "
                      "12 W assumed",
    "memory_w_per_gb": "Green Algorithms (Lannelongue et al. 2021): 0.3725 W per GB of memory",
}


@dataclass
class FootprintSettings:
    """Numbers used for energy and carbon accounting (see :data:`FOOTPRINT_SOURCES`)."""

    grid_g_co2e_per_kwh: float = 475.0
    ct_exam_kg_co2e: float = 9.2
    iodine_g_per_exam: float = 30.0
    contrast_ml_per_exam: float = 85.0
    cpu_w_per_core: float = 12.0
    memory_w_per_gb: float = 0.3725
    gpu_w: float = 300.0


def _rapl_files() -> list[str]:
    files = []
    for path in sorted(glob.glob("/sys/class/powercap/*/energy_uj")):
        name = os.path.basename(os.path.dirname(path))
        if name.count(":") == 1 and os.access(path, os.R_OK):  # packages only, not their sub-domains
            files.append(path)
    return files


def _read_uj(files: list[str]) -> float | None:
    try:
        return float(sum(int(open(f).read()) for f in files))
    except (OSError, ValueError):
        return None


class EnergyMeter:
    """Measures (RAPL) or estimates (CPU time) the energy of the code between :meth:`start` and :meth:`stop`."""

    def __init__(self, settings: FootprintSettings | None = None, device: str = "cpu"):
        self.settings = settings or FootprintSettings()
        self.device = device

    def start(self) -> "EnergyMeter":
        self._files = _rapl_files()
        self._uj0 = _read_uj(self._files) if self._files else None
        self._wall0 = time.perf_counter()
        usage = os.times()
        self._cpu0 = usage.user + usage.system
        return self

    def stop(self, peak_rss_gb: float) -> dict:
        wall = time.perf_counter() - self._wall0
        usage = os.times()
        cpu_s = usage.user + usage.system - self._cpu0
        uj1 = _read_uj(self._files) if self._files else None
        s = self.settings
        if self._uj0 is not None and uj1 is not None and uj1 >= self._uj0:
            energy_wh = (uj1 - self._uj0) / 3.6e9
            method = ("measured: RAPL package energy counters (/sys/class/powercap), whole CPU package(s) "
                      "during the run")
        else:
            cpu_j = s.cpu_w_per_core * cpu_s
            mem_j = s.memory_w_per_gb * peak_rss_gb * wall
            energy_wh = (cpu_j + mem_j) / 3600.0
            method = (f"estimated (RAPL not readable): Green Algorithms method, CPU time {cpu_s:.1f} s × "
                      f"{s.cpu_w_per_core:g} W per core (TDP per core × utilisation) + memory {peak_rss_gb:.2f} GB "
                      f"× {s.memory_w_per_gb:g} W/GB × wall time {wall:.1f} s")
            if str(self.device).startswith("cuda"):
                energy_wh += s.gpu_w * wall / 3600.0
                method += f" + GPU {s.gpu_w:g} W (assumed at full power) × wall time"
        return {"energy_wh": energy_wh, "method": method, "cpu_time_s": cpu_s, "wall_s": wall}


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, GB (Linux reports kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 ** 3 if platform.system() == "Darwin" else 1024 ** 2)


def footprint(energy: dict, settings: FootprintSettings) -> dict:
    """CO2e of the run and the contrast footprint avoided, with the numbers and their sources."""
    co2e_g = energy["energy_wh"] / 1000.0 * settings.grid_g_co2e_per_kwh
    return {
        "energy_wh": energy["energy_wh"],
        "energy_method": energy["method"],
        "co2e_g": co2e_g,
        "avoided": {
            "contrast_enhanced_exam_kg_co2e": settings.ct_exam_kg_co2e,
            "iodine_g": settings.iodine_g_per_exam,
            "contrast_ml": settings.contrast_ml_per_exam,
            "net_kg_co2e": round(settings.ct_exam_kg_co2e - co2e_g / 1000.0, 6),
        },
        "settings": asdict(settings),
        "sources": FOOTPRINT_SOURCES,
    }
