"""Model backends over real transports: the openai client over loopback HTTP, a tiny local model."""

from commerce.demo import DEMO_PRODUCTS, demo_product
from scripts_gen import AnswerContext, SegmentContext, make_writer
from scripts_gen.grounding import FactSheet, number_problems, policy
from scripts_gen.model_writer import PhraseCutter

JUJUBE = demo_product("大枣")


def openai_writer(server, model="ok", timeout=0.5):
    config = {"backend": "openai", "base_url": server.base_url, "model": model, "timeout": timeout}
    return make_writer(config)


async def collect(writer, product=JUJUBE, **ctx):
    return [line async for line in writer.segment(product, SegmentContext(**ctx))]


def assert_grounded(lines, product=JUJUBE):
    sheet = FactSheet.build([product])
    for line in lines:
        assert number_problems(line.text, sheet) == [], line.text
        for name in ("superlatives", "medical"):
            assert policy()[name].find(line.text) == [], line.text
        assert "有机" not in line.text


def test_phrase_cutter_emits_each_phrase_as_soon_as_it_ends():
    cutter = PhraseCutter()
    assert cutter.feed("阜平大") == []
    assert cutter.feed("枣来了。个大") == ["阜平大枣来了。"]
    assert cutter.feed("肉厚！皮薄") == ["个大肉厚！"]
    assert cutter.flush() == ["皮薄"]


async def test_openai_backend_streams_over_http_and_grounds_every_line(openai_server):
    writer = openai_writer(openai_server)
    lines = await collect(writer)
    assert openai_server.requests and openai_server.requests[0]["stream"] is True
    assert any("个大肉厚，皮薄核小" in line.text for line in lines)
    assert_grounded(lines)
    stats = writer.stats()
    assert stats["calls"] == 1 and stats["fallbacks"] == 0
    assert stats["rewrites"] >= 3  # wrong price, fake 有机 + 最好吃, wrong stock + medical claim
    assert 6 <= len(lines) <= 12


async def test_openai_timeout_falls_back_to_template(openai_server):
    writer = openai_writer(openai_server, model="slow", timeout=0.3)
    lines = await collect(writer)
    assert 6 <= len(lines) <= 12
    assert_grounded(lines)
    assert writer.stats()["fallbacks"] == 1 and writer.stats()["errors"] == 1
    assert "Timeout" in writer.last_error


async def test_openai_http_500_falls_back_to_template(openai_server):
    writer = openai_writer(openai_server, model="error")
    lines = await collect(writer)
    assert 6 <= len(lines) <= 12
    assert writer.stats()["fallbacks"] == 1
    assert "500" in writer.last_error


async def test_openai_malformed_stream_falls_back_to_template(openai_server):
    writer = openai_writer(openai_server, model="malformed")
    lines = await collect(writer)
    assert 6 <= len(lines) <= 12
    assert_grounded(lines)
    assert writer.stats()["fallbacks"] == 1


async def test_openai_unreachable_endpoint_falls_back():
    writer = make_writer({"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "timeout": 0.5})
    lines = await collect(writer)
    assert len(lines) >= 6 and writer.stats()["errors"] == 1


async def test_openai_answer_keeps_sources_and_rejects_a_lying_rephrase(openai_server):
    writer = openai_writer(openai_server)
    ctx = AnswerContext(products=DEMO_PRODUCTS)
    answer = await writer.answer("核桃是薄皮的吗", ctx)
    assert answer.sources == ("catalog:fp-walnut-500g",)  # the sheet: 薄皮好剥
    assert "9块9" not in answer.text and not answer.handed_off


async def test_transformers_backend_generates_with_a_tiny_local_model(tiny_model_dir):
    writer = make_writer(
        {"backend": "transformers", "model_dir": str(tiny_model_dir), "max_tokens": 48}
    )
    lines = await collect(writer, persona="xiaozhang")
    stats = writer.stats()
    assert stats["errors"] == 0 and stats["fallbacks"] == 0
    assert stats["phrases"] >= 1  # the model really generated text through the streamer
    assert 1 <= len(lines) <= 12
    assert_grounded(lines)


async def test_transformers_backend_with_a_missing_model_dir_falls_back(tmp_path):
    writer = make_writer({"backend": "transformers", "model_dir": str(tmp_path / "nope")})
    lines = await collect(writer)
    assert len(lines) >= 6
    assert writer.stats()["fallbacks"] == 1 and "not found" in writer.last_error
