"""Drives Troupe's /v1 with OpenAI's own Python SDK, so the wire format is checked by a client
Troupe did not write. Run by the API test `openai::a_real_openai_client_speaks_v1` with
TROUPE_BASE_URL, TROUPE_API_KEY and TROUPE_CHARACTER_MODEL set; prints one JSON line of what
it saw, which the test checks against the ledger."""

import json
import os

import openai

client = openai.OpenAI(base_url=os.environ["TROUPE_BASE_URL"] + "/v1", api_key=os.environ["TROUPE_API_KEY"],
                       max_retries=0)
character = os.environ["TROUPE_CHARACTER_MODEL"]
seen = {}

models = [m.id for m in client.models.list()]
assert "fake-openai" in models and character in models, models
seen["models"] = models
assert client.models.retrieve(character).id == character

whole = client.chat.completions.create(
    model=character,
    messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
    max_tokens=100,
    temperature=0.7,
)
assert whole.object == "chat.completion" and whole.choices[0].message.role == "assistant", whole
assert whole.choices[0].finish_reason == "stop", whole
seen["whole"] = {"text": whole.choices[0].message.content, "total_tokens": whole.usage.total_tokens}

pieces, usage, finish = [], None, None
stream = client.chat.completions.create(
    model="fake-anthropic",
    messages=[{"role": "user", "content": "Stream it"}],
    stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    assert chunk.object == "chat.completion.chunk", chunk
    if chunk.usage is not None:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
assert finish == "stop" and usage is not None
seen["stream"] = {"text": "".join(pieces), "total_tokens": usage.total_tokens}

for kind, call in [
    ("not_found", lambda: client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])),
    ("bad_request", lambda: client.chat.completions.create(model="demo", messages=[])),
    ("authentication", lambda: openai.OpenAI(base_url=client.base_url, api_key="trp_wrong", max_retries=0)
        .models.list()),
]:
    try:
        call()
        raise AssertionError(f"{kind}: no error")
    except openai.NotFoundError as e:
        assert kind == "not_found" and e.code == "model_not_found", e
    except openai.BadRequestError as e:
        assert kind == "bad_request" and e.body["param"] == "messages", e
    except openai.AuthenticationError as e:
        assert kind == "authentication" and e.code == "invalid_api_key", e
    seen[kind] = True

print(json.dumps(seen))
