"""The run record: what went in, which model, where it ran, how long, how much memory and energy, and the
contrast footprint avoided.

Energy is measured with Intel/AMD RAPL (``/sys/class/powercap/*/energy_uj``) when the files are readable;
otherwise it is estimated from the process' CPU time with the Green Algorithms method (Lannelongue, Grealey
& Inouye, Adv. Sci. 2021): cores × power per core × utilisation + memory × 0.3725 W/GB, over the wall time.
On a CUDA device the GPU's energy is added: measured with NVIDIA's NVML energy counter (``nvidia-ml-py``, Volta
or newer) when it can be read, else estimated as an assumed board power × the wall time.
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
    "gpu_w": "board power of a data-centre GPU at full load (NVIDIA A100 PCIe: 300 W TDP); used only where NVML's "
             "energy counter cannot be read",
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


def _cuda_index(device: str) -> str:
    """The CUDA device's entry in ``CUDA_VISIBLE_DEVICES`` (an NVML index or UUID), or its own index."""
    index = int(str(device).split(":", 1)[1]) if ":" in str(device) else 0
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    return visible[index] if index < len(visible) else str(index)


class GpuEnergyCounter:
    """NVML's total-energy counter of the GPU behind a CUDA device, in millijoules; ``read()`` is None where NVML,
    the GPU or the counter (Volta and newer) is missing. It counts the whole GPU, other processes on it too."""

    def __init__(self, device: str = "cuda"):
        self.name = None
        self._read = None
        self._shutdown = None
        try:
            import pynvml
            pynvml.nvmlInit()
            self._shutdown = pynvml.nvmlShutdown    # NVML counts its inits: each one is matched by close()
            which = _cuda_index(device)
            handle = (pynvml.nvmlDeviceGetHandleByIndex(int(which)) if which.isdigit()
                      else pynvml.nvmlDeviceGetHandleByUUID(which))
            name = pynvml.nvmlDeviceGetName(handle)
            self.name = name.decode() if isinstance(name, bytes) else str(name)
            self._read = lambda: float(pynvml.nvmlDeviceGetTotalEnergyConsumption(handle))
            self._read()
        except Exception:  # noqa: BLE001 - no NVML, no GPU, an old GPU: the energy is estimated instead
            self._read = None

    def read(self) -> float | None:
        if self._read is None:
            return None
        try:
            return self._read()
        except Exception:  # noqa: BLE001
            return None

    def close(self) -> None:
        """Release NVML (once); ``read()`` is None from then on."""
        shutdown, self._shutdown, self._read = self._shutdown, None, None
        if shutdown is not None:
            try:
                shutdown()
            except Exception:  # noqa: BLE001 - releasing is best effort
                pass


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
        self._gpu = GpuEnergyCounter(self.device) if str(self.device).startswith("cuda") else None
        self._gpu_mj0 = self._gpu.read() if self._gpu else None
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
        result = {"energy_wh": energy_wh, "method": method, "cpu_time_s": cpu_s, "wall_s": wall}
        if self._gpu is not None:
            mj1 = self._gpu.read()
            self._gpu.close()
            if self._gpu_mj0 is not None and mj1 is not None and mj1 >= self._gpu_mj0:
                gpu_wh = (mj1 - self._gpu_mj0) / 3.6e6
                result["method"] += (f" + GPU measured: NVML energy counter of the {self._gpu.name}, the whole GPU "
                                     "during the run")
            else:
                gpu_wh = s.gpu_w * wall / 3600.0
                result["method"] += (f" + GPU estimated (NVML energy counter not readable): {s.gpu_w:g} W "
                                     f"(assumed at full power) × wall time {wall:.1f} s")
            result["energy_wh"] += gpu_wh
            result["gpu_energy_wh"] = gpu_wh
        return result


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
