"""The hand-computed cost table: every model ``prices.yaml`` prices, several cases each.

Every expected figure below was worked out by hand from ``runway_plan/catalog/prices.yaml``
(rates, ``per`` blocks, ceil rounding), never by calling the code.  Specs are written as YAML
in a temporary directory and go through ``check_file`` like a user's.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.media import silent_wav

from runway_plan.catalog import Catalog, load_catalog
from runway_plan.plan import Plan, PlanOptions, plan, price_generation
from runway_plan.validate import check_file

ROOT = Path(__file__).resolve().parents[1]
UNKNOWN = "unknown"
IMG = "https://example.com/still.png"
VID = "https://example.com/clip.mp4"
AUD = "https://example.com/voice.mp3"
MAYA = {"type": "runway-preset", "presetId": "Maya"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The packaged catalog."""
    return load_catalog()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A spec directory with a 12.4 s and a 6 s WAV and the 8 s example performance video."""
    silent_wav(tmp_path / "a12.wav", 12.4)
    silent_wav(tmp_path / "a6.wav", 6.0)
    shutil.copy(ROOT / "specs" / "assets" / "performance.mp4", tmp_path / "performance.mp4")
    return tmp_path


def plan_steps(
    where: Path,
    catalog: Catalog,
    steps: dict[str, Any],
    *,
    prices: dict[str, Any] | None = None,
    allowed: frozenset[str] = frozenset(),
) -> Plan:
    """Write a spec with ``steps``, check it (no errors but ``allowed`` codes) and plan it."""
    spec: dict[str, Any] = {"version": 1, "name": "cost-table", "steps": steps}
    if prices:
        spec["prices"] = prices
    path = where / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    graph, diagnostics = check_file(path, catalog)
    errors = [d for d in diagnostics if d.is_error and d.code not in allowed]
    assert not errors, [f"{d.code} {d.message}" for d in errors]
    return plan(graph, catalog, PlanOptions(tier=5))


def _t2v(model: str, **fields: Any) -> dict[str, Any]:
    return {
        "endpoint": "text_to_video",
        "model": model,
        "promptText": "a paper boat",
        "ratio": "1280:720",
        **fields,
    }


def _i2v(model: str, **fields: Any) -> dict[str, Any]:
    return {
        "endpoint": "image_to_video",
        "model": model,
        "promptImage": IMG,
        "promptText": "slow dolly-in",
        "ratio": "1280:720",
        **fields,
    }


def _t2i(model: str, ratio: str | None, **fields: Any) -> dict[str, Any]:
    step = {"endpoint": "text_to_image", "model": model, "promptText": "a lighthouse", **fields}
    if ratio is not None:
        step["ratio"] = ratio
    return step


def _tts(text: str, **fields: Any) -> dict[str, Any]:
    return {
        "endpoint": "text_to_speech",
        "model": "eleven_multilingual_v2",
        "promptText": text,
        "voice": MAYA,
        **fields,
    }


def _iso(uri: str) -> dict[str, Any]:
    return {"endpoint": "voice_isolation", "model": "eleven_voice_isolation", "audioUri": uri}


def _dub(uri: str, **fields: Any) -> dict[str, Any]:
    return {
        "endpoint": "voice_dubbing",
        "model": "eleven_voice_dubbing",
        "audioUri": uri,
        "targetLang": "es",
        **fields,
    }


def _sts(kind: str, uri: str) -> dict[str, Any]:
    return {
        "endpoint": "speech_to_speech",
        "model": "eleven_multilingual_sts_v2",
        "media": {"type": kind, "uri": uri},
        "voice": MAYA,
    }


def _act(uri: str) -> dict[str, Any]:
    return {
        "endpoint": "character_performance",
        "model": "act_two",
        "character": {"type": "image", "uri": IMG},
        "reference": {"type": "video", "uri": uri},
    }


def _sfx(seconds: float) -> dict[str, Any]:
    return {
        "endpoint": "sound_effect",
        "model": "eleven_text_to_sound_v2",
        "promptText": "rain on a tin roof",
        "duration": seconds,
    }


def _recipe(name: str, version: str, **fields: Any) -> dict[str, Any]:
    return {"endpoint": f"recipes/{name}", "version": version, **fields}


def _ugc(**fields: Any) -> dict[str, Any]:
    images = {"characterImage": {"uri": IMG}, "productImage": {"uri": IMG}}
    return _recipe("product_ugc", "2026-06", **images, **fields)


def _swap(**fields: Any) -> dict[str, Any]:
    return _recipe(
        "product_swap",
        "2026-06",
        newProductImages=[{"uri": IMG}],
        originalProductImage={"uri": IMG},
        referenceVideo={"uri": VID},
        **fields,
    )


def _fan(items: list[Any], step: dict[str, Any]) -> dict[str, Any]:
    return {"for_each": items, **step}


# Each case: model, steps, {step: (low, high) credits or UNKNOWN}.  The arithmetic is in the id.
CASES: list[Any] = [
    # gen4.5: 12 credits per output second; prores/png_sequence 17; 10-bit and deeper 32.
    pytest.param(
        "gen4.5", {"s": _t2v("gen4.5", duration=5)}, {"s": (60, 60)}, id="gen4.5 t2v 5s x12=60"
    ),
    pytest.param(
        "gen4.5", {"s": _i2v("gen4.5", duration=10)}, {"s": (120, 120)}, id="gen4.5 i2v 10s x12=120"
    ),
    pytest.param(
        "gen4.5",
        {"s": _t2v("gen4.5", duration=4, outputFormat="prores")},
        {"s": (68, 68)},
        id="gen4.5 prores 4s x17=68",
    ),
    pytest.param(
        "gen4.5",
        {"s": _t2v("gen4.5", duration=2, outputFormat="hdr10")},
        {"s": (64, 64)},
        id="gen4.5 hdr10 2s x32=64",
    ),
    pytest.param(
        "gen4.5",
        {"s": _t2v("gen4.5", duration=3, outputFormat="mp4")},
        {"s": (36, 36)},
        id="gen4.5 mp4 3s x12=36",
    ),
    pytest.param(
        "gen4.5",
        {"s": _fan(["a", "b", "c"], _t2v("gen4.5", duration=6))},
        {"s": (216, 216)},
        id="gen4.5 fan-out 3x6s x12=216",
    ),
    # gen4_turbo: 5 per second; duration omitted -> overlay range 2-10 s.
    pytest.param(
        "gen4_turbo",
        {"s": _i2v("gen4_turbo", duration=5)},
        {"s": (25, 25)},
        id="gen4_turbo 5s x5=25",
    ),
    pytest.param(
        "gen4_turbo",
        {"s": _i2v("gen4_turbo", duration=10)},
        {"s": (50, 50)},
        id="gen4_turbo 10s x5=50",
    ),
    pytest.param(
        "gen4_turbo",
        {"s": _i2v("gen4_turbo")},
        {"s": (10, 50)},
        id="gen4_turbo omitted 2-10s = 10-50",
    ),
    pytest.param(
        "gen4_turbo",
        {"s": _fan([1, 2, 3, 4], _i2v("gen4_turbo", duration=2))},
        {"s": (40, 40)},
        id="gen4_turbo fan-out 4x2s x5=40",
    ),
    # act_two: 5 per second of the reference video.
    pytest.param(
        "act_two", {"s": _act("performance.mp4")}, {"s": (40, 40)}, id="act_two local 8s x5=40"
    ),
    pytest.param("act_two", {"s": _act(VID)}, {"s": (15, 150)}, id="act_two remote 3-30s = 15-150"),
    pytest.param(
        "act_two",
        {"clip": _t2v("gen4.5", duration=6), "s": _act("@clip")},
        {"clip": (72, 72), "s": (29, 32)},
        id="act_two upstream 6s, delivered 5.9-6.25s x5=29.5-31.25, whole 29-32",
    ),
    # veo3.1: 40 with audio, 20 without; audio omitted -> both.
    pytest.param(
        "veo3.1",
        {"s": _t2v("veo3.1", duration=8, audio=True)},
        {"s": (320, 320)},
        id="veo3.1 audio 8s x40=320",
    ),
    pytest.param(
        "veo3.1",
        {"s": _i2v("veo3.1", duration=6, audio=False)},
        {"s": (120, 120)},
        id="veo3.1 no audio 6s x20=120",
    ),
    pytest.param(
        "veo3.1",
        {"s": _t2v("veo3.1", duration=4)},
        {"s": (80, 160)},
        id="veo3.1 audio omitted 4s x20..40=80-160",
    ),
    pytest.param(
        "veo3.1",
        {"s": _t2v("veo3.1", audio=False)},
        {"s": (80, 160)},
        id="veo3.1 duration omitted 4-8s x20=80-160",
    ),
    pytest.param(
        "veo3.1",
        {"s": _t2v("veo3.1")},
        {"s": (80, 320)},
        id="veo3.1 both omitted 4-8s x20..40=80-320",
    ),
    pytest.param(
        "veo3.1",
        {"s": _fan(["a", "b"], _t2v("veo3.1", duration=4, audio=True))},
        {"s": (320, 320)},
        id="veo3.1 fan-out 2x4s x40=320",
    ),
    # veo3.1_fast: 15 with audio, 10 without.
    pytest.param(
        "veo3.1_fast",
        {"s": _t2v("veo3.1_fast", duration=8, audio=True)},
        {"s": (120, 120)},
        id="veo3.1_fast audio 8s x15=120",
    ),
    pytest.param(
        "veo3.1_fast",
        {"s": _t2v("veo3.1_fast", duration=8, audio=False)},
        {"s": (80, 80)},
        id="veo3.1_fast no audio 8s x10=80",
    ),
    pytest.param(
        "veo3.1_fast",
        {"s": _t2v("veo3.1_fast", duration=6)},
        {"s": (60, 90)},
        id="veo3.1_fast audio omitted 6s x10..15=60-90",
    ),
    # seedance2: 36 per second; omitted or "auto" -> overlay range 4-15 s.
    pytest.param(
        "seedance2",
        {"s": _t2v("seedance2", duration=5)},
        {"s": (180, 180)},
        id="seedance2 5s x36=180",
    ),
    pytest.param(
        "seedance2",
        {"s": _t2v("seedance2", duration=15)},
        {"s": (540, 540)},
        id="seedance2 15s x36=540",
    ),
    pytest.param(
        "seedance2",
        {"s": _t2v("seedance2", duration="auto")},
        {"s": (144, 540)},
        id="seedance2 auto 4-15s = 144-540",
    ),
    pytest.param(
        "seedance2", {"s": _t2v("seedance2")}, {"s": (144, 540)}, id="seedance2 omitted = 144-540"
    ),
    # gen4_image: 5 at the six 720p ratios, 8 otherwise; one image per generation.
    pytest.param(
        "gen4_image", {"s": _t2i("gen4_image", "1920:1080")}, {"s": (8, 8)}, id="gen4_image 1080p=8"
    ),
    pytest.param(
        "gen4_image",
        {"s": _t2i("gen4_image", "1080:1080")},
        {"s": (8, 8)},
        id="gen4_image 1080:1080=8",
    ),
    pytest.param(
        "gen4_image", {"s": _t2i("gen4_image", "1280:720")}, {"s": (5, 5)}, id="gen4_image 720p=5"
    ),
    pytest.param(
        "gen4_image",
        {"s": _fan([1, 2, 3], _t2i("gen4_image", "720:720"))},
        {"s": (15, 15)},
        id="gen4_image fan-out 3x720p x5=15",
    ),
    # gen4_image_turbo: 2 per image.
    pytest.param(
        "gen4_image_turbo",
        {"s": _t2i("gen4_image_turbo", "1920:1080", referenceImages=[{"uri": IMG}])},
        {"s": (2, 2)},
        id="gen4_image_turbo 2",
    ),
    pytest.param(
        "gen4_image_turbo",
        {
            "s": _fan(
                [1, 2, 3, 4, 5],
                _t2i("gen4_image_turbo", "720:1280", referenceImages=[{"uri": IMG}]),
            )
        },
        {"s": (10, 10)},
        id="gen4_image_turbo fan-out 5x2=10",
    ),
    # gemini_2.5_flash: 5 per image.
    pytest.param(
        "gemini_2.5_flash",
        {"s": _t2i("gemini_2.5_flash", "1024:1024")},
        {"s": (5, 5)},
        id="gemini_2.5_flash 5",
    ),
    pytest.param(
        "gemini_2.5_flash",
        {"s": _fan(["a", "b"], _t2i("gemini_2.5_flash", "1344:768"))},
        {"s": (10, 10)},
        id="gemini_2.5_flash fan-out 2x5=10",
    ),
    # gemini_image3_pro: 20 per image at 1K-2K, 40 at 4K, times outputCount.
    pytest.param(
        "gemini_image3_pro",
        {"s": _t2i("gemini_image3_pro", "1024:1024")},
        {"s": (20, 20)},
        id="gemini_image3_pro 1K=20",
    ),
    pytest.param(
        "gemini_image3_pro",
        {"s": _t2i("gemini_image3_pro", "2048:2048")},
        {"s": (20, 20)},
        id="gemini_image3_pro 2K=20",
    ),
    pytest.param(
        "gemini_image3_pro",
        {"s": _t2i("gemini_image3_pro", "1024:1024", outputCount=4)},
        {"s": (80, 80)},
        id="gemini_image3_pro 4x20=80",
    ),
    pytest.param(
        "gemini_image3_pro",
        {"s": _t2i("gemini_image3_pro", "4096:4096")},
        {"s": (40, 40)},
        id="gemini_image3_pro 4K=40",
    ),
    pytest.param(
        "gemini_image3_pro",
        {"s": _t2i("gemini_image3_pro", "6336:2688", outputCount=4)},
        {"s": (160, 160)},
        id="gemini_image3_pro 4K 4x40=160",
    ),
    # gpt_image_2: low 1/2, medium 5/11, high and auto 20/41 (1K-2K / 4K incl. ratio auto),
    # default quality high, times outputCount.
    pytest.param(
        "gpt_image_2",
        {"s": _t2i("gpt_image_2", "1920:1088")},
        {"s": (20, 20)},
        id="gpt_image_2 default high 2K=20",
    ),
    pytest.param(
        "gpt_image_2",
        {"s": _t2i("gpt_image_2", "1920:1088", quality="low")},
        {"s": (1, 1)},
        id="gpt_image_2 low 2K=1",
    ),
    pytest.param(
        "gpt_image_2",
        {"s": _t2i("gpt_image_2", "3840:2160", quality="low")},
        {"s": (2, 2)},
        id="gpt_image_2 low 4K=2",
    ),
    pytest.param(
        "gpt_image_2",
        {"s": _t2i("gpt_image_2", "1920:1088", quality="medium", outputCount=4)},
        {"s": (20, 20)},
        id="gpt_image_2 medium 4x5=20",
    ),
    pytest.param(
        "gpt_image_2",
        {"s": _t2i("gpt_image_2", "2160:3840", quality="medium")},
        {"s": (11, 11)},
        id="gpt_image_2 medium 4K=11",
    ),
    pytest.param(
        "gpt_image_2",
        {"s": _t2i("gpt_image_2", "auto", quality="high")},
        {"s": (41, 41)},
        id="gpt_image_2 high ratio auto=41",
    ),
    pytest.param(
        "gpt_image_2",
        {"s": _t2i("gpt_image_2", "3840:1648", quality="auto", outputCount=2)},
        {"s": (82, 82)},
        id="gpt_image_2 auto 4K 2x41=82",
    ),
    pytest.param(
        "gpt_image_2",
        {"s": _t2i("gpt_image_2", "2560:2560", outputCount=10)},
        {"s": (200, 200)},
        id="gpt_image_2 high 10x20=200",
    ),
    # muse_image: 1 per image, times outputCount.
    pytest.param(
        "muse_image", {"s": _t2i("muse_image", "1600:1600")}, {"s": (1, 1)}, id="muse_image 1"
    ),
    pytest.param(
        "muse_image",
        {"s": _t2i("muse_image", "auto", outputCount=4)},
        {"s": (4, 4)},
        id="muse_image 4x1=4",
    ),
    pytest.param(
        "muse_image",
        {"s": _fan([1, 2, 3], _t2i("muse_image", "1600:1600", outputCount=2))},
        {"s": (6, 6)},
        id="muse_image fan-out 3x2x1=6",
    ),
    # bria_fibo_1_5: 5 at 1MP, 10 at 4MP.
    pytest.param(
        "bria_fibo_1_5", {"s": _t2i("bria_fibo_1_5", "1024:1024")}, {"s": (5, 5)}, id="bria 1MP=5"
    ),
    pytest.param(
        "bria_fibo_1_5",
        {"s": _t2i("bria_fibo_1_5", "2048:2048")},
        {"s": (10, 10)},
        id="bria 4MP=10",
    ),
    pytest.param(
        "bria_fibo_1_5",
        {"s": _t2i("bria_fibo_1_5", "1536:2304")},
        {"s": (10, 10)},
        id="bria 4MP portrait=10",
    ),
    # ideogram_4_0: low 4, medium 7, high 11 per image; quality default undocumented.
    pytest.param(
        "ideogram_4_0",
        {"s": _t2i("ideogram_4_0", "2048:2048", quality="low", outputCount=2)},
        {"s": (8, 8)},
        id="ideogram_4_0 low 2x4=8",
    ),
    pytest.param(
        "ideogram_4_0",
        {"s": _t2i("ideogram_4_0", None, quality="high")},
        {"s": (11, 11)},
        id="ideogram_4_0 high=11",
    ),
    pytest.param(
        "ideogram_4_0",
        {"s": _t2i("ideogram_4_0", None)},
        {"s": (4, 11)},
        id="ideogram_4_0 quality omitted=4-11",
    ),
    pytest.param(
        "ideogram_4_0",
        {"s": _t2i("ideogram_4_0", None, outputCount=3)},
        {"s": (12, 33)},
        id="ideogram_4_0 omitted 3x4..11=12-33",
    ),
    # ideogram_4_5: very_low 1, low 4, medium 8, high 25.
    pytest.param(
        "ideogram_4_5",
        {"s": _t2i("ideogram_4_5", "1024:1024", quality="medium")},
        {"s": (8, 8)},
        id="ideogram_4_5 medium=8",
    ),
    pytest.param(
        "ideogram_4_5",
        {"s": _t2i("ideogram_4_5", None, quality="high", outputCount=2)},
        {"s": (50, 50)},
        id="ideogram_4_5 high 2x25=50",
    ),
    pytest.param(
        "ideogram_4_5",
        {"s": _t2i("ideogram_4_5", None, quality="low")},
        {"s": (4, 4)},
        id="ideogram_4_5 low=4",
    ),
    pytest.param(
        "ideogram_4_5",
        {"s": _t2i("ideogram_4_5", None)},
        {"s": (1, 25)},
        id="ideogram_4_5 omitted=1-25",
    ),
    # eleven_multilingual_v2: 1 credit per 50 characters, rounded up per generation.
    pytest.param(
        "eleven_multilingual_v2", {"s": _tts("x" * 38)}, {"s": (1, 1)}, id="tts 38 chars=1"
    ),
    pytest.param(
        "eleven_multilingual_v2", {"s": _tts("x" * 50)}, {"s": (1, 1)}, id="tts 50 chars=1"
    ),
    pytest.param(
        "eleven_multilingual_v2", {"s": _tts("x" * 51)}, {"s": (2, 2)}, id="tts 51 chars=2"
    ),
    pytest.param(
        "eleven_multilingual_v2", {"s": _tts("y" * 1000)}, {"s": (20, 20)}, id="tts 1000 chars=20"
    ),
    pytest.param(
        "eleven_multilingual_v2",
        {"s": _fan(["a", "b", "c"], _tts("z" * 120))},
        {"s": (9, 9)},
        id="tts fan-out 3x ceil(120/50)=9",
    ),
    pytest.param(
        "eleven_multilingual_v2",
        {"s": _fan(["ab", "abcdefgh"], _tts("{{ item * 10 }}"))},
        {"s": (3, 3)},
        id="tts rendered 20 and 80 chars=1+2=3",
    ),
    # eleven_voice_isolation: 1 credit per 6 s of input, rounded up; input 4.6-3600 s.
    pytest.param(
        "eleven_voice_isolation",
        {"s": _iso("a12.wav")},
        {"s": (3, 3)},
        id="isolation wav 12.4s ceil(/6)=3",
    ),
    pytest.param(
        "eleven_voice_isolation", {"s": _iso("a6.wav")}, {"s": (1, 1)}, id="isolation wav 6s=1"
    ),
    pytest.param(
        "eleven_voice_isolation",
        {"fx": _sfx(13), "s": _iso("@fx")},
        {"s": (3, 3)},
        id="isolation upstream 13s ceil(/6)=3",
    ),
    pytest.param(
        "eleven_voice_isolation",
        {"s": _iso(AUD)},
        {"s": (1, 600)},
        id="isolation remote 4.6-3600s = 1-600",
    ),
    pytest.param(
        "eleven_voice_isolation",
        {"vo": _tts("Hello there, and welcome to the show about sounds."), "s": _iso("@vo")},
        {"vo": (1, 1), "s": (1, 3)},
        id="isolation of 50 chars of speech, 2-12.5 s (4.6-12.5 s accepted), ceil(/6)=1-3",
    ),
    # eleven_voice_dubbing: 1 credit per 2 s of input, rounded up.
    pytest.param(
        "eleven_voice_dubbing", {"s": _dub("a12.wav")}, {"s": (7, 7)}, id="dub wav 12.4s ceil(/2)=7"
    ),
    pytest.param("eleven_voice_dubbing", {"s": _dub("a6.wav")}, {"s": (3, 3)}, id="dub wav 6s=3"),
    pytest.param(
        "eleven_voice_dubbing",
        {
            "clean": _iso("a12.wav"),
            "s": _fan(["es", "fr", "de"], _dub("@clean", targetLang="{{ item }}")),
        },
        {"clean": (3, 3), "s": (21, 21)},
        id="dub fan-out 3x of isolated 12.4s = 3x7=21",
    ),
    pytest.param(
        "eleven_voice_dubbing",
        {"fx": _sfx(5), "s": _dub("@fx")},
        {"s": (3, 3)},
        id="dub upstream 5s ceil(/2)=3",
    ),
    pytest.param(
        "eleven_voice_dubbing", {"s": _dub(AUD)}, {"s": UNKNOWN}, id="dub remote no bounds=unknown"
    ),
    pytest.param(
        "eleven_voice_dubbing",
        {"vo": _tts("x" * 100), "s": _dub("@vo")},
        {"s": (2, 13)},
        id="dub of 100 chars of speech at 4-25/s, 4-25 s, ceil(/2)=2-13",
    ),
    # eleven_multilingual_sts_v2: 1 credit per 3 s of input (audio or video), rounded up.
    pytest.param(
        "eleven_multilingual_sts_v2",
        {"s": _sts("audio", "a12.wav")},
        {"s": (5, 5)},
        id="sts wav 12.4s ceil(/3)=5",
    ),
    pytest.param(
        "eleven_multilingual_sts_v2",
        {"s": _sts("audio", "a6.wav")},
        {"s": (2, 2)},
        id="sts wav 6s=2",
    ),
    pytest.param(
        "eleven_multilingual_sts_v2",
        {"clip": _t2v("gen4.5", duration=10), "s": _sts("video", "@clip")},
        {"clip": (120, 120), "s": (4, 4)},
        id="sts of 10s video ceil(/3)=4",
    ),
    pytest.param(
        "eleven_multilingual_sts_v2",
        {"s": _sts("audio", AUD)},
        {"s": UNKNOWN},
        id="sts remote=unknown",
    ),
]

RETIRED: list[Any] = [
    pytest.param(
        "gen3a_turbo",
        {
            "s": {
                "endpoint": "image_to_video",
                "model": "gen3a_turbo",
                "promptImage": IMG,
                "promptText": "x",
                "ratio": "1280:768",
                "duration": 10,
            }
        },
        {"s": (50, 50)},
        id="gen3a_turbo 10s x5=50",
    ),
    pytest.param(
        "gen3a_turbo",
        {
            "s": {
                "endpoint": "image_to_video",
                "model": "gen3a_turbo",
                "promptImage": IMG,
                "promptText": "x",
                "ratio": "1280:768",
                "duration": 5,
            }
        },
        {"s": (25, 25)},
        id="gen3a_turbo 5s x5=25",
    ),
    pytest.param(
        "gen4_aleph",
        {
            "clip": _t2v("gen4.5", duration=5),
            "s": {
                "endpoint": "video_to_video",
                "model": "gen4_aleph",
                "videoUri": "@clip",
                "promptText": "x",
            },
        },
        {"s": (73, 79)},
        id="gen4_aleph of 5s, delivered 4.9-5.25s x15=73.5-78.75, whole 73-79",
    ),
    pytest.param(
        "gen4_aleph",
        {
            "clip": _t2v("gen4.5", duration=8),
            "s": {
                "endpoint": "video_to_video",
                "model": "gen4_aleph",
                "videoUri": "@clip",
                "promptText": "x",
            },
        },
        {"s": (118, 124)},
        id="gen4_aleph of 8s, delivered 7.9-8.25s x15=118.5-123.75, whole 118-124",
    ),
    pytest.param("veo3", {"s": _t2v("veo3", duration=8)}, {"s": (320, 320)}, id="veo3 8s x40=320"),
    pytest.param(
        "veo3",
        {"s": _fan([1, 2], _i2v("veo3", duration=8))},
        {"s": (640, 640)},
        id="veo3 fan-out 2x8s x40=640",
    ),
]


def _v2v(model: str, video: str, **fields: Any) -> dict[str, Any]:
    return {"endpoint": "video_to_video", "model": model, "videoUri": video, **fields}


def _seedv2v(model: str, video: str, **fields: Any) -> dict[str, Any]:
    return {
        "endpoint": "video_to_video",
        "model": model,
        "promptVideo": video,
        "promptText": "make it dusk",
        "ratio": "1280:720",
        **fields,
    }


def _speech(model: str, text: str) -> dict[str, Any]:
    return {"endpoint": "text_to_speech", "model": model, "promptText": text, "voice": MAYA}


def _upscale(model: str, video: str, **fields: Any) -> dict[str, Any]:
    return {"endpoint": "video_upscale", "model": model, "videoUri": video, **fields}


def _drop(step: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in step.items() if k not in names}


def _refs(count: int) -> list[dict[str, str]]:
    return [{"uri": f"https://example.com/ref{i}.png"} for i in range(count)]


def _tagged(count: int) -> list[dict[str, str]]:
    return [{"uri": f"https://example.com/ref{i}.png", "tag": f"ref{i}"} for i in range(count)]


CLIP6 = _t2v("gen4.5", duration=6)
CLIP5 = _t2v("gen4.5", duration=5)

# The models priced from the public pricing transcriptions (prices.yaml cites each); every
# figure worked out by hand from the source's rule, the arithmetic in the id.
PRICED: list[Any] = [
    # aleph2: 28/s of output (= the input's length), minimum 56; +5/s prores; +20/s 10-bit,
    # and possibly +20/s more above 4 MP (the high end only).
    pytest.param(
        "aleph2",
        {"clip": CLIP6, "s": _v2v("aleph2", "@clip")},
        {"clip": (72, 72), "s": (165, 175)},
        id="aleph2 of 6s, delivered 5.9-6.25s x28=165.2-175, whole 165-175",
    ),
    pytest.param(
        "aleph2",
        {"s": _v2v("aleph2", VID)},
        {"s": (56, 840)},
        id="aleph2 remote input 2-30s x28 = 56-840",
    ),
    pytest.param(
        "aleph2",
        {"s": _v2v("aleph2", "performance.mp4")},
        {"s": (224, 224)},
        id="aleph2 local 8s x28=224",
    ),
    pytest.param(
        "aleph2",
        {"clip": CLIP5, "s": _v2v("aleph2", "@clip", outputFormat="prores")},
        {"clip": (60, 60), "s": (161, 174)},
        id="aleph2 prores 5s, delivered 4.9-5.25s x(28+5) = 161.7-173.25, whole 161-174",
    ),
    pytest.param(
        "aleph2",
        {"clip": CLIP5, "s": _v2v("aleph2", "@clip", outputFormat="sdr_rec709_10bit")},
        {"clip": (60, 60), "s": (235, 357)},
        id="aleph2 10-bit 5s, delivered 4.9-5.25s: 4.9x48=235.2 .. 5.25x68 if >4MP =357",
    ),
    # seedance2: ratio tiers 480p/720p 36, 1080p 40, 4K 150 per s; auto billed at the 15 s max.
    pytest.param(
        "seedance2",
        {"s": _t2v("seedance2", duration=5, ratio="1920:1080")},
        {"s": (200, 200)},
        id="seedance2 1080p 5s x40=200",
    ),
    pytest.param(
        "seedance2",
        {"s": _t2v("seedance2", duration=4, ratio="3840:2160")},
        {"s": (600, 600)},
        id="seedance2 4K 4s x150=600",
    ),
    pytest.param(
        "seedance2",
        {"s": _t2v("seedance2", duration="auto")},
        {"s": (144, 540)},
        id="seedance2 auto 720p: 4s x36=144 after refund, 15s x36=540 up front",
    ),
    pytest.param(
        "seedance2",
        {
            "clip": _t2v("gen4_turbo", duration=3)
            | {"endpoint": "image_to_video", "promptImage": IMG},
            "s": _seedv2v("seedance2", "@clip"),
        },
        {"s": (144, 540)},
        id="seedance2 v2v no duration: output 4-15s, not the 3s input: 144-540",
    ),
    pytest.param(
        "seedance2_fast",
        {"s": _t2v("seedance2_fast", duration=5)},
        {"s": (145, 145)},
        id="seedance2_fast 5s x29=145",
    ),
    pytest.param(
        "seedance2_fast",
        {"s": _t2v("seedance2_fast", duration="auto")},
        {"s": (116, 435)},
        id="seedance2_fast auto 4s x29=116 .. 15s x29=435",
    ),
    # seedance2_mini: 16/s, minimum 64.
    pytest.param(
        "seedance2_mini",
        {"s": _t2v("seedance2_mini", duration=5)},
        {"s": (80, 80)},
        id="seedance2_mini 5s x16=80",
    ),
    pytest.param(
        "seedance2_mini",
        {"clip": CLIP6, "s": _seedv2v("seedance2_mini", "@clip")},
        {"clip": (72, 72), "s": (64, 240)},
        id="seedance2_mini v2v no duration 4-15s x16 = 64-240",
    ),
    # seedance2_5: 480p 20, 720p 30, 1080p 68 per s; + input/reference video 10/15/34 per s
    # (at most 30 s); minimum 80 per generation.
    pytest.param(
        "seedance2_5",
        {"clip": CLIP6, "s": _seedv2v("seedance2_5", "@clip", duration=10)},
        {"clip": (72, 72), "s": (388, 394)},
        id="seedance2_5 720p 10s x30 + 5.9-6.25s input x15 = 388.5-393.75, whole 388-394",
    ),
    pytest.param(
        "seedance2_5",
        {"s": _t2v("seedance2_5", duration=4, ratio="854:480")},
        {"s": (80, 80)},
        id="seedance2_5 480p 4s x20=80 (the minimum)",
    ),
    pytest.param(
        "seedance2_5",
        {"s": _t2v("seedance2_5", duration=5, ratio="1920:1080")},
        {"s": (340, 340)},
        id="seedance2_5 1080p 5s x68=340",
    ),
    pytest.param(
        "seedance2_5",
        {"s": _t2v("seedance2_5", duration="auto")},
        {"s": (120, 900)},
        id="seedance2_5 auto 720p 4s x30=120 .. 30s x30=900",
    ),
    pytest.param(
        "seedance2_5",
        {"s": _t2v("seedance2_5", duration=5, referenceVideos=[{"type": "video", "uri": VID}])},
        {"s": (150, 600)},
        id="seedance2_5 720p 5s x30=150 + remote ref video 0-30s x15 = 0-450: 150-600",
    ),
    # hailuo3: 768p 10, 2K 15 per s (default 2K); +2 per reference image; reference video at
    # the output rate.
    pytest.param(
        "hailuo3",
        {"s": _t2v("hailuo3", duration=6, ratio="16:9", resolution="768p", references=_refs(2))},
        {"s": (64, 64)},
        id="hailuo3 768p 6s x10 + 2 refs x2 = 64",
    ),
    pytest.param(
        "hailuo3",
        {"s": _t2v("hailuo3", duration=10, ratio="16:9")},
        {"s": (150, 150)},
        id="hailuo3 default 2K 10s x15=150",
    ),
    pytest.param(
        "hailuo3",
        {
            "clip": CLIP5,
            "s": _t2v(
                "hailuo3",
                duration=6,
                ratio="16:9",
                resolution="768p",
                referenceVideos=[{"type": "video", "uri": "@clip"}],
            ),
        },
        {"clip": (60, 60), "s": (109, 113)},
        id="hailuo3 768p 6s x10 + 4.9-5.25s ref video x10 = 109-112.5, whole 109-113",
    ),
    # h3_max: 480p 5, 768p 8 per s; no documented default.
    pytest.param(
        "h3_max",
        {"s": _drop(_t2v("h3_max", duration=6, resolution="768p"), "ratio")},
        {"s": (48, 48)},
        id="h3_max 768p 6s x8=48",
    ),
    pytest.param(
        "h3_max",
        {"s": _drop(_t2v("h3_max", duration=6), "ratio")},
        {"s": (30, 48)},
        id="h3_max resolution omitted 6s x5..x8 = 30-48",
    ),
    # happyhorse_1_0: 720p 15, 1080p 30 per s (t2v: by ratio; i2v: resolution, default 720P).
    pytest.param(
        "happyhorse_1_0",
        {"s": _t2v("happyhorse_1_0", duration=5, ratio="1920:1080")},
        {"s": (150, 150)},
        id="happyhorse 1080p 5s x30=150",
    ),
    pytest.param(
        "happyhorse_1_0",
        {"s": _drop(_i2v("happyhorse_1_0", duration=5), "ratio")},
        {"s": (75, 75)},
        id="happyhorse i2v default 720P 5s x15=75",
    ),
    pytest.param(
        "happyhorse_1_0",
        {"s": _t2v("happyhorse_1_0")},
        {"s": (45, 225)},
        id="happyhorse duration omitted: 3-15 s (OpenAPI) x15 = 45-225",
    ),
    # grok_imagine_1_5: 480p 10, 720p 16, 1080p 29 per s; +1 per image/audio reference and the
    # i2v start frame.
    pytest.param(
        "grok_imagine_1_5",
        {
            "s": _t2v(
                "grok_imagine_1_5", duration=5, ratio="16:9", resolution="720p", references=_refs(2)
            )
        },
        {"s": (82, 82)},
        id="grok 720p 5s x16 + 2 refs = 82",
    ),
    pytest.param(
        "grok_imagine_1_5",
        {"s": _drop(_i2v("grok_imagine_1_5", duration=10, resolution="1080p"), "ratio")},
        {"s": (291, 291)},
        id="grok i2v 1080p 10s x29 + start frame 1 = 291",
    ),
    pytest.param(
        "grok_imagine_1_5",
        {"s": _t2v("grok_imagine_1_5", duration=5, ratio="16:9")},
        {"s": (50, 145)},
        id="grok resolution omitted 5s x10..x29 = 50-145",
    ),
    # grok_imagine_1_5_lite: 720p 3 per s + 1 start frame; 480p and 1080p only low confidence.
    pytest.param(
        "grok_imagine_1_5_lite",
        {"s": _i2v("grok_imagine_1_5_lite", duration=5, ratio="auto_720p")},
        {"s": (16, 16)},
        id="grok lite i2v 720p 5s x3 + 1 = 16",
    ),
    pytest.param(
        "grok_imagine_1_5_lite",
        {"s": _t2v("grok_imagine_1_5_lite", duration=6)},
        {"s": (18, 18)},
        id="grok lite 1280:720 6s x3=18",
    ),
    pytest.param(
        "grok_imagine_1_5_lite",
        {"s": _t2v("grok_imagine_1_5_lite", duration=6, ratio="848:480")},
        {"s": UNKNOWN},
        id="grok lite 480p: low confidence = unknown",
    ),
    # gemini_omni_flash: 10/s (+1 first frame on i2v); v2v 11 per input second + 1 per reference.
    pytest.param(
        "gemini_omni_flash",
        {"s": _t2v("gemini_omni_flash", duration=8)},
        {"s": (80, 80)},
        id="omni t2v 8s x10=80",
    ),
    pytest.param(
        "gemini_omni_flash",
        {"s": _i2v("gemini_omni_flash", duration=5)},
        {"s": (51, 51)},
        id="omni i2v 5s x10 + 1 = 51",
    ),
    pytest.param(
        "gemini_omni_flash",
        {
            "clip": CLIP6,
            "s": _v2v("gemini_omni_flash", "@clip", promptText="x", references=_refs(2)),
        },
        {"clip": (72, 72), "s": (66, 71)},
        id="omni v2v 5.9-6.25s input x11 + 2 refs = 66.9-70.75, whole 66-71",
    ),
    # gemini_omni_flash_1.1: 720p 10, 1080p 15 per s; 360p/4K low; references possibly +1.
    pytest.param(
        "gemini_omni_flash_1.1",
        {"s": _t2v("gemini_omni_flash_1.1", duration=6, ratio="1920:1080")},
        {"s": (90, 90)},
        id="omni 1.1 1080p 6s x15=90",
    ),
    pytest.param(
        "gemini_omni_flash_1.1",
        {"s": _t2v("gemini_omni_flash_1.1", duration=5, references=_refs(2))},
        {"s": (50, 52)},
        id="omni 1.1 720p 5s x10 = 50, + up to 2 refs = 52",
    ),
    pytest.param(
        "gemini_omni_flash_1.1",
        {"s": _t2v("gemini_omni_flash_1.1", duration=5, ratio="640:360")},
        {"s": UNKNOWN},
        id="omni 1.1 360p: low confidence = unknown",
    ),
    # wan3: 480p 5, 720p 10, 1080p 20 per s by ratio.
    pytest.param(
        "wan3",
        {"s": _t2v("wan3", duration=5, ratio="832:480")},
        {"s": (25, 25)},
        id="wan3 480p 5s x5=25",
    ),
    pytest.param(
        "wan3",
        {"s": _i2v("wan3", duration=4, ratio="auto_1080p")},
        {"s": (80, 80)},
        id="wan3 auto_1080p 4s x20=80",
    ),
    # wan3_prime and enhance_frame_rate: low confidence only -> unknown, with the hint.
    pytest.param(
        "wan3_prime",
        {"s": _t2v("wan3_prime", duration=5)},
        {"s": UNKNOWN},
        id="wan3_prime low = unknown",
    ),
    pytest.param(
        "wan3_prime",
        {"s": _i2v("wan3_prime", duration=5, ratio="auto_720p")},
        {"s": UNKNOWN},
        id="wan3_prime i2v low = unknown",
    ),
    pytest.param(
        "enhance_frame_rate",
        {"s": _upscale("enhance_frame_rate", "performance.mp4", targetFramerate="60")},
        {"s": UNKNOWN},
        id="enhance_frame_rate low = unknown",
    ),
    pytest.param(
        "enhance_frame_rate",
        {"clip": CLIP5, "s": _upscale("enhance_frame_rate", "@clip", targetFramerate="60")},
        {"s": UNKNOWN},
        id="enhance_frame_rate upstream low = unknown",
    ),
    # ruby: 20/s of output (= input), possibly 40/s above 4 MP.
    pytest.param(
        "ruby",
        {"clip": CLIP6, "s": {"endpoint": "video_to_hdr", "model": "ruby", "videoUri": "@clip"}},
        {"clip": (72, 72), "s": (118, 250)},
        id="ruby 5.9-6.25s x20=118 .. x40=250 if the source is >4MP",
    ),
    pytest.param(
        "ruby",
        {"s": {"endpoint": "video_to_hdr", "model": "ruby", "videoUri": "performance.mp4"}},
        {"s": (160, 320)},
        id="ruby local 8s x20=160 .. x40=320",
    ),
    # magnific_video_upscaler_creative: per output frame, 0.7/0.9/1.2 credits, frames = 24-60
    # fps x seconds, total rounded up.
    pytest.param(
        "magnific_video_upscaler_creative",
        {"s": _upscale("magnific_video_upscaler_creative", "performance.mp4", resolution="720p")},
        {"s": (135, 336)},
        id="magnific video 720p 8s: 8x24x0.7=134.4 ceil 135 .. 8x60x0.7=336",
    ),
    pytest.param(
        "magnific_video_upscaler_creative",
        {
            "clip": CLIP5,
            "s": _upscale("magnific_video_upscaler_creative", "@clip", resolution="4k"),
        },
        {"clip": (60, 60), "s": (142, 378)},
        id="magnific video 4k 4.9-5.25s: 4.9x24x1.2=141.12 ceil 142 .. 5.25x60x1.2=378",
    ),
    pytest.param(
        "magnific_video_upscaler_creative",
        {"s": _upscale("magnific_video_upscaler_creative", "performance.mp4")},
        {"s": (173, 432)},
        id="magnific video default 2k 8s: 172.8 ceil 173 .. 432",
    ),
    pytest.param(
        "magnific_video_upscaler_creative",
        {"s": _upscale("magnific_video_upscaler_creative", VID, resolution="720p")},
        {"s": (1, 1260)},
        id="magnific video remote 0-30s: 0 frames -> minimum 1 .. 30x60x0.7=1260",
    ),
    # images
    pytest.param(
        "gemini_image3.1_flash",
        {"s": _t2i("gemini_image3.1_flash", "1024:1024")},
        {"s": (7, 7)},
        id="gemini 3.1 flash 1K = 7",
    ),
    pytest.param(
        "gemini_image3.1_flash",
        {"s": _t2i("gemini_image3.1_flash", "2752:1536", outputCount=4)},
        {"s": (44, 44)},
        id="gemini 3.1 flash 2K x4 images = 44",
    ),
    pytest.param(
        "gemini_image3.1_flash",
        {"s": _t2i("gemini_image3.1_flash", "512:512")},
        {"s": UNKNOWN},
        id="gemini 3.1 flash 0.5K low = unknown",
    ),
    pytest.param(
        "gpt_image_2_5_flare",
        {"s": _t2i("gpt_image_2_5_flare", "1920:1920")},
        {"s": (1, 76)},
        id="flare 1 image 1-76",
    ),
    pytest.param(
        "gpt_image_2_5_flare",
        {"s": _t2i("gpt_image_2_5_flare", "1920:1920", outputCount=2, referenceImages=_tagged(2))},
        {"s": (6, 156)},
        id="flare 2 images x(1..76) + 2 refs x 2 images = 6-156",
    ),
    pytest.param(
        "gpt_image_2_5_sunburst",
        {"s": _t2i("gpt_image_2_5_sunburst", "auto")},
        {"s": (1, 76)},
        id="sunburst 1 image 1-76",
    ),
    pytest.param(
        "gpt_image_2_5_sunburst",
        {
            "s": _t2i(
                "gpt_image_2_5_sunburst", "2560:1440", outputCount=3, referenceImages=_tagged(1)
            )
        },
        {"s": (6, 231)},
        id="sunburst 3 images x(1..76) + 1 ref x 3 images = 6-231",
    ),
    pytest.param(
        "grok_imagine_image_2",
        {"s": _t2i("grok_imagine_image_2", "1024:1024", outputCount=4, referenceImages=_refs(2))},
        {"s": (26, 26)},
        id="grok image 4 x 1K medium 6 + 2 refs once = 26",
    ),
    pytest.param(
        "grok_imagine_image_2",
        {
            "s": _t2i(
                "grok_imagine_image_2",
                "2048:2048",
                quality="low",
                outputCount=2,
                referenceImages=_refs(3),
            )
        },
        {"s": (15, 15)},
        id="grok image 2 x 2K low 6 + 3 refs once (not per image) = 15",
    ),
    pytest.param(
        "grok_imagine_image_2",
        {"s": _t2i("grok_imagine_image_2", "2048:2048", quality="low")},
        {"s": (6, 6)},
        id="grok image 2K low = 6",
    ),
    pytest.param(
        "grok_imagine_image_2",
        {"s": _t2i("grok_imagine_image_2", "auto_2k", outputCount=2)},
        {"s": (16, 16)},
        id="grok image auto_2k medium x2 = 16",
    ),
    pytest.param(
        "seedream5_lite",
        {"s": _t2i("seedream5_lite", "2048:2048")},
        {"s": (4, 4)},
        id="seedream lite 4",
    ),
    pytest.param(
        "seedream5_lite",
        {"s": _t2i("seedream5_lite", "3072:3072", outputCount=3)},
        {"s": (12, 12)},
        id="seedream lite x3 = 12",
    ),
    pytest.param(
        "seedream5_pro",
        {"s": _t2i("seedream5_pro", "1024:1024")},
        {"s": (5, 5)},
        id="seedream pro 1K = 5",
    ),
    pytest.param(
        "seedream5_pro",
        {"s": _t2i("seedream5_pro", "2048:2048", outputCount=2)},
        {"s": (18, 18)},
        id="seedream pro 2K x2 = 18",
    ),
    pytest.param(
        "magnific_precision_upscaler_v2",
        {
            "s": {
                "endpoint": "image_upscale",
                "model": "magnific_precision_upscaler_v2",
                "imageUri": IMG,
            }
        },
        {"s": (25, 150)},
        id="magnific image 25, 150 above 4096 px",
    ),
    pytest.param(
        "magnific_precision_upscaler_v2",
        {
            "s": {
                "endpoint": "image_upscale",
                "model": "magnific_precision_upscaler_v2",
                "imageUri": IMG,
                "scaleFactor": 2,
            }
        },
        {"s": (25, 150)},
        id="magnific image x2 25-150",
    ),
    # audio
    pytest.param(
        "eleven_v3",
        {"s": _speech("eleven_v3", "hello there")},
        {"s": (1, 1)},
        id="eleven_v3 11 chars ceil(/50)=1",
    ),
    pytest.param(
        "eleven_v3",
        {"s": _speech("eleven_v3", "x" * 120)},
        {"s": (3, 3)},
        id="eleven_v3 120 chars ceil(2.4)=3",
    ),
    pytest.param(
        "seed_audio",
        {"s": _drop(_speech("seed_audio", "hello there"), "voice")},
        {"s": (5, 5)},
        id="seed_audio 11 chars: 0.4-2.8 s x0.25 < minimum 5",
    ),
    pytest.param(
        "seed_audio",
        {"s": _drop(_speech("seed_audio", "y" * 400), "voice")},
        {"s": (5, 25)},
        id="seed_audio 400 chars: 16 s x0.25=4 -> min 5 .. 100 s x0.25=25",
    ),
    pytest.param(
        "seed_audio",
        {"s": _drop(_speech("seed_audio", "z" * 100), "voice")},
        {"s": (5, 7)},
        id="seed_audio 100 chars: min 5 .. 25 s x0.25=6.25, rounding unknown -> 7",
    ),
    pytest.param(
        "eleven_text_to_sound_v2",
        {"s": _sfx(3)},
        {"s": (3, 3)},
        id="sfx 3s x1=3",
    ),
    pytest.param(
        "eleven_text_to_sound_v2",
        {"s": {k: v for k, v in _sfx(3).items() if k != "duration"}},
        {"s": (2, 2)},
        id="sfx no duration flat 2",
    ),
    pytest.param(
        "eleven_text_to_sound_v2",
        {"s": _sfx(2.5)},
        {"s": (2, 3)},
        id="sfx 2.5s x1=2.5, rounding unknown 2-3",
    ),
    # recipes (no model: named by their endpoint).  Video recipes: "N for 4 s, +M per extra
    # second" = M/s + a flat N - 4M; the tier follows ratio (or resolution).
    pytest.param(
        "recipes/product_ad",
        {"s": _recipe("product_ad", "2026-07", productImages=[{"uri": IMG}], duration=4)},
        {"s": (200, 216)},
        id="product_ad 4s, ratio omitted: 720p 200 .. 1080p 216",
    ),
    pytest.param(
        "recipes/product_ad",
        {"s": _recipe("product_ad", "2026-07", productImages=[{"uri": IMG}], ratio="1080:1920")},
        {"s": (456, 456)},
        id="product_ad default 10s 1080p: 216 + 6x40 = 456",
    ),
    pytest.param(
        "recipes/product_ugc",
        {"s": _ugc(ratio="720:1280", duration=8)},
        {"s": (336, 336)},
        id="product_ugc 8s 720p: 192 + 4x36 = 336",
    ),
    pytest.param(
        "recipes/product_ugc",
        {"s": _ugc()},
        {"s": (588, 648)},
        id="product_ugc default 15s: 192 + 11x36 = 588 .. 208 + 11x40 = 648",
    ),
    pytest.param(
        "recipes/product_swap",
        {"s": _swap(duration=5)},
        {"s": (248, 248)},
        id="product_swap 5s default 720p: 212 + 36 = 248",
    ),
    pytest.param(
        "recipes/product_swap",
        {"s": _swap(resolution="1080p")},
        {"s": (468, 468)},
        id="product_swap default 10s 1080p: 228 + 6x40 = 468",
    ),
    pytest.param(
        "recipes/multi_shot_video",
        {"s": _recipe("multi_shot_video", "2026-06", mode="auto", prompt="a fox's day")},
        {"s": (130, 130)},
        id="multi_shot_video default 10s at the default 1280:720: 13x10 = 130",
    ),
    pytest.param(
        "recipes/multi_shot_video",
        {
            "s": _recipe(
                "multi_shot_video",
                "2026-06",
                mode="auto",
                prompt="x",
                duration=15,
                ratio="1440:1440",
            )
        },
        {"s": (255, 255)},
        id="multi_shot_video 15s 1080p: 17x15 = 255",
    ),
    pytest.param(
        "recipes/ad_localization",
        {
            "s": _recipe(
                "ad_localization", "2026-06", referenceImage={"uri": IMG}, targetLanguage="ja"
            )
        },
        {"s": (21, 21)},
        id="ad_localization 21 per image",
    ),
    pytest.param(
        "recipes/ad_localization",
        {
            "s": _fan(
                ["fr", "de", "ja"],
                _recipe(
                    "ad_localization",
                    "2026-06",
                    referenceImage={"uri": IMG},
                    targetLanguage="{{ item }}",
                ),
            )
        },
        {"s": (63, 63)},
        id="ad_localization in three languages 3x21 = 63",
    ),
    pytest.param(
        "recipes/marketing_stock_image",
        {"s": _recipe("marketing_stock_image", "2026-06", prompt="a kitchen")},
        {"s": (88, 88)},
        id="marketing_stock_image defaults 4 high: 8 + 4x20 = 88",
    ),
    pytest.param(
        "recipes/marketing_stock_image",
        {
            "s": _recipe(
                "marketing_stock_image", "2026-06", prompt="x", outputCount=2, quality="low"
            )
        },
        {"s": (10, 48)},
        id="marketing_stock_image 2 low: 8 + 2x(1..20) = 10-48",
    ),
    pytest.param(
        "recipes/product_campaign_image",
        {"s": _recipe("product_campaign_image", "2026-06", image={"uri": IMG}, prompt="x")},
        {"s": (144, 144)},
        id="product_campaign_image 4 images x36 = 144",
    ),
    pytest.param(
        "recipes/product_campaign_image",
        {
            "s": _fan(
                [1, 2],
                _recipe("product_campaign_image", "2026-06", image={"uri": IMG}, prompt="x"),
            )
        },
        {"s": (288, 288)},
        id="product_campaign_image twice 2x144 = 288",
    ),
]


def _check(result: Plan, expected: dict[str, Any]) -> None:
    steps = {step.name: step for step in result.steps}
    for name, want in expected.items():
        step = steps[name]
        if want == UNKNOWN:
            assert step.unknown == len(step.generations) > 0, step
            assert step.reasons, "an unknown cost must say why"
        else:
            assert step.unknown == 0, step.reasons
            assert (step.low, step.high) == (Decimal(want[0]), Decimal(want[1])), step.reasons
            if want[0] != want[1]:
                assert step.reasons, "a range must say why"
    assert result.total_low == sum((s.low for s in result.steps), Decimal(0))
    assert result.total_high == sum((s.high for s in result.steps), Decimal(0))


@pytest.mark.parametrize(("model", "steps", "expected"), [*CASES, *PRICED])
def test_hand_computed_costs(
    model: str, steps: dict[str, Any], expected: dict[str, Any], workdir: Path, catalog: Catalog
) -> None:
    result = plan_steps(workdir, catalog, steps)
    assert result.steps[-1].model == model
    _check(result, expected)


@pytest.mark.parametrize(("model", "steps", "expected"), RETIRED)
def test_retired_models_keep_their_price(
    model: str, steps: dict[str, Any], expected: dict[str, Any], workdir: Path, catalog: Catalog
) -> None:
    result = plan_steps(
        workdir, catalog, steps, allowed=frozenset({"RP203", "RP201", "RP202", "RP205", "RP207"})
    )
    assert result.steps[-1].model == model
    _check(result, expected)


def test_every_priced_model_has_cases(catalog: Catalog) -> None:
    covered: dict[str, int] = {}
    for case in [*CASES, *PRICED, *RETIRED]:
        covered[case.values[0]] = covered.get(case.values[0], 0) + 1
    missing = {m for m in catalog.prices.models if covered.get(m, 0) < 2}
    assert not missing, f"models with fewer than two hand-computed cases: {sorted(missing)}"


def test_unknown_price_is_unknown_not_zero(workdir: Path, catalog: Catalog) -> None:
    steps = {
        "hero": _t2v("gen4.5", duration=6),
        "restyle": _v2v("kling_4", "@hero", promptText="make it dusk"),
    }
    result = plan_steps(workdir, catalog, steps)
    restyle = result.steps[1]
    assert restyle.unknown == 1 and "kling_4" in restyle.reasons[0]
    assert result.unknown == 1 and result.unknown_models == ["kling_4"]
    assert (result.total_low, result.total_high) == (Decimal(72), Decimal(72))
    codes = [d.code for d in result.diagnostics]
    assert codes == ["RP401"]
    assert "prices:" in (result.diagnostics[0].hint or "")


def test_spec_prices_override_unknown(workdir: Path, catalog: Catalog) -> None:
    steps = {
        "hero": _t2v("gen4.5", duration=6),
        "restyle": _fan(
            ["a", "b"], {"endpoint": "video_to_video", "model": "aleph2", "videoUri": "@hero"}
        ),
    }
    result = plan_steps(workdir, catalog, steps, prices={"aleph2": 28})
    restyle = result.steps[1]
    assert (restyle.low, restyle.high, restyle.unknown) == (Decimal(56), Decimal(56), 0)
    assert result.total_high == Decimal(72 + 56)
    assert not [d for d in result.diagnostics if d.code == "RP401"]
    assert any("spec's prices" in r for r in restyle.reasons)


def test_spec_prices_override_a_catalog_price(workdir: Path, catalog: Catalog) -> None:
    result = plan_steps(
        workdir, catalog, {"s": _i2v("gen4_turbo", duration=10)}, prices={"gen4_turbo": "3.5"}
    )
    assert (result.total_low, result.total_high) == (Decimal("3.5"), Decimal("3.5"))


def test_usd_is_exact_hundredths(workdir: Path, catalog: Catalog) -> None:
    result = plan_steps(workdir, catalog, {"s": _t2v("gen4.5", duration=7)})
    assert result.total_high == 84
    assert result.usd_high == Decimal("0.84")


def test_ranges_are_diagnosed_as_notes(workdir: Path, catalog: Catalog) -> None:
    result = plan_steps(workdir, catalog, {"s": _t2v("veo3.1", duration=8)})
    assert (result.total_low, result.total_high) == (Decimal(160), Decimal(320))
    [note] = result.diagnostics
    assert note.code == "RP404" and not note.is_error
    assert "audio" in note.message and "not documented" in note.message


def test_price_generation_directly(workdir: Path, catalog: Catalog) -> None:
    path = workdir / "one.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "x", "steps": {"s": _iso("a12.wav")}}))
    graph, diagnostics = check_file(path, catalog)
    assert not diagnostics
    cost = price_generation(graph.generations["s"], graph, catalog)
    assert (cost.low, cost.high, cost.unknown) == (Decimal(3), Decimal(3), False)
    assert (cost.quantity_low, cost.blocks_low, cost.rate_low) == (Decimal("12.4"), 3, 1)
    assert cost.units == "12.4 s of audioUri (per 6 s, rounded up)"
