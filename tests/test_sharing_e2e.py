"""Privacy end to end: two workers and a supervisor, sharing with consent, export, erasure."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.prompts import PromptSet
from tests.botapi_standin import BotApiStandIn, FakeUser
from tests.harness import TOKEN, Harness, answer_to, button_data, buttons, running_bot

SUPERVISOR = FakeUser(id=9001, first_name="Maija", language_code="fi")
A = FakeUser(id=1001, first_name="Aino", language_code="fi")
B = FakeUser(id=1002, first_name="Bertta", language_code="fi")
STRANGER = FakeUser(id=1003, first_name="Vieras", language_code="fi")
A_FIRST = "Asiakastyössä <b>tärkeintä</b> & arvokkainta oli kuunteleminen."
A_SECOND = "Toinen pohdinta, jota en jaa: palkkaneuvottelu jännittää."


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, supervisor_ids=frozenset({SUPERVISOR.id})) as harness:
        # Telegram lets a bot write only to people who have opened it
        await harness.say(SUPERVISOR, "/start", replies=2)
        yield harness


def fi(h: Harness) -> PromptSet:
    return h.prompts["fi"]


async def reflect(h: Harness, user: FakeUser, text: str) -> dict[str, Any]:
    """One short reflection: an opening answer, enough, skip the closing; the final message."""
    (question,) = await h.say(user, text)
    _, closing = await h.press(user, question, button_data(question, ":enough"), replies=2)
    (finished,) = await h.press(user, closing, button_data(closing, ":skip"))
    assert buttons(finished)  # share, contact, new
    return finished


def rid_of(h: Harness, finished: dict[str, Any]) -> int:
    """The reflection id behind a finished reflection's share button."""
    return int(buttons(finished)[fi(h).buttons["share"]].split(":")[1])


async def share(h: Harness, user: FakeUser, finished: dict[str, Any]) -> list[dict[str, Any]]:
    """Press share, read the preview, confirm; returns the preview messages."""
    share_data = buttons(finished)[fi(h).buttons["share"]]
    intro, preview, ask = await h.press(user, finished, share_data, replies=3)
    assert user.first_name in intro["text"]
    (done,) = await h.press(user, ask, button_data(ask, "sc:" + share_data.split(":")[1]))
    assert done["text"] == fi(h).text("shared_done")
    return [preview]


async def test_sharing_with_consent_and_taking_it_back(h: Harness) -> None:
    standin = h.standin
    first = await reflect(h, A, A_FIRST)
    second = await reflect(h, A, A_SECOND)
    await reflect(h, B, "Bertan oma ajatus.")
    rid, unshared = rid_of(h, first), rid_of(h, second)

    preview = await share(h, A, first)
    (notice,) = await standin.wait_outgoing(SUPERVISOR.id)
    assert "Aino" in notice["text"]
    open_data = button_data(notice, f"so:{rid}")

    # the supervisor sees exactly the preview, escaped and protected
    (shown,) = await h.press(SUPERVISOR, notice, open_data)
    assert shown["text"] == preview[0]["text"]
    assert A_FIRST in shown["text"]  # the tags show as typed, not as formatting
    params = shown["_params"]
    assert params["parse_mode"] == "HTML" and params["protect_content"] is True
    assert "&lt;b&gt;" in params["text"] and "&amp;" in params["text"]

    (listing,) = await h.say(SUPERVISOR, "/jaetut")
    assert "Aino" in listing["text"] and A_SECOND[:10] not in listing["text"]
    assert list(buttons(listing).values()) == [f"so:{rid}"]

    # the worker sees that it was opened
    (own_list,) = await h.say(A, "/omat")
    assert "jaettu työnohjaajalle" in own_list["text"] and "avattu" in own_list["text"]
    _, status = await h.press(A, own_list, f"o:{rid}", replies=2)
    assert "avasi" in status["text"]

    # B and a stranger (who has only asked for help) learn nothing of A
    await h.say(STRANGER, "/apua")
    for other in (B, STRANGER):
        for kind in ("o", "sc", "us", "dc", "sh", "dl"):
            data = f"{kind}:{rid}"
            standin.press(other, first, data)
            (reply,) = await standin.wait_outgoing(other.id)
            assert reply["text"] in (fi(h).text("not_found"), fi(h).text("share_not_ready"))
            assert "Aino" not in reply["text"] and "kuunteleminen" not in reply["text"]
        pressed = standin.press(other, notice, open_data)
        assert (await answer_to(standin, pressed))["text"] == fi(h).text("not_supervisor")
        for command in ("/jaetut", "/kooste", "/kutsu"):
            (reply,) = await h.say(other, command)
            assert reply["text"] == fi(h).text("not_supervisor")
    # the unshared reflection is not readable by the supervisor either
    standin.press(SUPERVISOR, notice, f"so:{unshared}")
    (reply,) = await standin.wait_outgoing(SUPERVISOR.id)
    assert reply["text"] == fi(h).text("not_found")

    # A takes the share back
    _, status = await h.press(A, own_list, f"o:{rid}", replies=2)
    (undone,) = await h.press(A, status, button_data(status, f"us:{rid}"))
    assert undone["text"] == fi(h).text("unshared_done")
    standin.press(SUPERVISOR, notice, open_data)
    (reply,) = await standin.wait_outgoing(SUPERVISOR.id)
    assert reply["text"] == fi(h).text("not_found")
    (listing,) = await h.say(SUPERVISOR, "/jaetut")
    assert listing["text"] == fi(h).text("supervisor_empty")
    await standin.wait_idle()
    assert standin.pending_callback_ids() == set()


async def test_export_matches_what_is_stored(h: Harness) -> None:
    await reflect(h, A, A_FIRST)
    await reflect(h, A, A_SECOND)
    markdown, data = await h.say(A, "/vie", replies=2)
    assert markdown["document"]["file_name"].endswith(".md")
    text = markdown["_bytes"].decode("utf-8")
    assert "# Omat pohdintani" in text
    assert "palkkaneuvottelu jännittää" in text
    exported = json.loads(data["_bytes"])
    answers = [e["answer"] for r in exported["reflections"] for e in r["entries"]]
    async with h.storage() as store:
        stored = [e.answer for _, entries in await store.everything(A.id) for e in entries]
    assert answers == stored == [A_FIRST, A_SECOND]
    print("\n--- export (Markdown) ---\n" + text)


async def test_erase_everything_leaves_nothing_of_the_worker(h: Harness) -> None:
    await reflect(h, A, A_FIRST)
    first = await reflect(h, A, A_SECOND)
    await share(h, A, first)
    await h.standin.wait_outgoing(SUPERVISOR.id)  # the share notice
    await reflect(h, B, "Bertan oma ajatus.")
    path = h.settings.database
    plain = path.read_bytes() + path.with_name(path.name + "-wal").read_bytes()
    for secret in (A_FIRST, "palkkaneuvottelu", "Aino", "Bertan oma"):
        assert secret.encode() not in plain
    print(f"\n--- grep of the raw database file: {len(plain)} bytes, none of the answers ---")
    import sqlite3

    with sqlite3.connect(path) as raw:
        wrapped = raw.execute("SELECT wrapped_key FROM users WHERE id = ?", (A.id,)).fetchone()[0]

    (ask,) = await h.say(A, "/poista")
    assert "pohdintoja 2" in ask["text"]
    (cancelled,) = await h.press(A, ask, "nc")
    assert cancelled["text"] == fi(h).text("nothing_changed")
    (erased,) = await h.press(A, ask, "ea")
    assert erased["text"] == fi(h).text("erased")

    async with h.storage() as store:
        counts = await store.counts(A.id)
        assert (counts.reflections, counts.answers, counts.shared) == (0, 0, 0)
        assert not await store.is_user(A.id)
        assert await store.shared_page(SUPERVISOR.id, 0, 5) == ([], 0)
        assert await store.counts(B.id) != counts  # B keeps theirs
    after = path.read_bytes() + path.with_name(path.name + "-wal").read_bytes()
    assert bytes(wrapped) not in after
    with sqlite3.connect(path) as raw:
        for table, column in (("users", "id"), ("reflections", "user_id")):
            count = raw.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {column} = ?",  # noqa: S608
                (A.id,),
            ).fetchone()[0]
            assert count == 0
    # writing again starts a fresh life with a fresh key
    (question,) = await h.say(A, "Uusi alku.")
    assert question["text"]


async def test_privacy_statement_shows_counts(h: Harness) -> None:
    await reflect(h, A, A_FIRST)
    (statement,) = await h.say(A, "/tietosuoja")
    assert "pohdintoja 1, vastauksia 1, jaettuna 0" in statement["text"]
    assert "työnantajasi ei näe mitään" in statement["text"].lower()
    assert set(buttons(statement).values()) == {"ex", "eq"}


async def test_digest_since_last_time_and_since_a_date(h: Harness) -> None:
    await share(h, A, await reflect(h, A, A_FIRST))
    await h.standin.wait_outgoing(SUPERVISOR.id)
    (document,) = await h.say(SUPERVISOR, "/kooste")
    assert document["_params"]["protect_content"] is True
    text = document["_bytes"].decode("utf-8")
    assert "# Aino" in text and "kuunteleminen" in text
    (empty,) = await h.say(SUPERVISOR, "/kooste")
    assert empty["text"] == fi(h).text("digest_empty")
    (again,) = await h.say(SUPERVISOR, "/kooste 1.1.2020")
    assert "kuunteleminen" in again["_bytes"].decode("utf-8")
    (bad,) = await h.say(SUPERVISOR, "/kooste eilen")
    assert bad["text"] == fi(h).text("digest_bad_date")


async def test_invite_ties_worker_to_the_inviting_supervisor(h: Harness) -> None:
    (invite,) = await h.say(SUPERVISOR, "/kutsu")
    match = re.search(r"https://t\.me/\w+\?start=([\w-]+)", invite["text"])
    assert match is not None
    code = match.group(1)
    newcomer = FakeUser(id=1004, first_name="Cecilia", language_code="fi")
    welcome, _, _ = await h.say(newcomer, f"/start {code}", replies=3)
    assert welcome["text"] == fi(h).text("invite_welcome")
    async with h.storage() as store:
        assert await store.supervisor_of(newcomer.id) == SUPERVISOR.id
    # the same link does not work twice
    (used,) = (await h.say(B, f"/start {code}", replies=3))[:1]
    assert used["text"] == fi(h).text("invite_invalid")


async def test_invite_only_mode_turns_strangers_away(tmp_path: Path) -> None:
    async with BotApiStandIn(token=TOKEN) as standin:
        h = Harness(
            standin,
            tmp_path / "bot.sqlite3",
            supervisor_ids=frozenset({SUPERVISOR.id}),
            invite_only=True,
        )
        await h.start_bot()
        try:
            await h.say(SUPERVISOR, "/start", replies=2)
            (reply,) = await h.say(STRANGER, "Hei, saanko kirjoittaa?")
            assert reply["text"] == fi(h).text("invite_only")
            invalid, gate = await h.say(STRANGER, "/start vaarakoodi", replies=2)
            assert invalid["text"] == fi(h).text("invite_invalid")
            assert gate["text"] == fi(h).text("invite_only")
            async with h.storage() as store:
                assert not await store.is_user(STRANGER.id)
            (invite,) = await h.say(SUPERVISOR, "/kutsu")
            code = invite["text"].rsplit("start=", 1)[1].strip()
            welcome, _, opening = await h.say(STRANGER, f"/start {code}", replies=3)
            assert welcome["text"] == fi(h).text("invite_welcome") and buttons(opening)
            (question,) = await h.say(STRANGER, "Nyt pääsin sisään.")
            assert question["text"] != fi(h).text("invite_only")
        finally:
            await h.stop_bot()


async def test_supervisor_claims_the_role_once_with_the_printed_code(tmp_path: Path) -> None:
    async with BotApiStandIn(token=TOKEN) as standin:
        h = Harness(standin, tmp_path / "bot.sqlite3")  # no supervisor configured
        await h.start_bot()
        try:
            code_file = tmp_path / "supervisor-claim-code.txt"
            assert code_file.stat().st_mode & 0o077 == 0
            command = code_file.read_text(encoding="utf-8").strip()
            (refused,) = await h.say(SUPERVISOR, "/jaetut")
            assert refused["text"] == fi(h).text("not_supervisor")
            (wrong,) = await h.say(STRANGER, "/ohjaaja arvattu")
            assert wrong["text"] == fi(h).text("not_supervisor")
            (done,) = await h.say(SUPERVISOR, command)
            assert done["text"] == fi(h).text("claim_done")
            (again,) = await h.say(STRANGER, command)
            assert again["text"] == fi(h).text("not_supervisor")
            (listing,) = await h.say(SUPERVISOR, "/jaetut")
            assert listing["text"] == fi(h).text("supervisor_empty")
        finally:
            await h.stop_bot()


async def test_own_list_pages_in_place(h: Harness) -> None:
    for n in range(7):
        await reflect(h, A, f"Pohdinta numero {n}")
    (listing,) = await h.say(A, "/omat")
    assert "sivu 1/2" in listing["text"] and "Pohdinta numero 6" in listing["text"]
    older = button_data(listing, "p:1")
    h.standin.press(A, listing, older)
    await h.standin.wait_call("editMessageText")
    page_two = h.standin.outbox(A.id)[-1]
    assert page_two["message_id"] == listing["message_id"]  # edited in place
    assert "sivu 2/2" in page_two["text"] and "Pohdinta numero 0" in page_two["text"]
    assert "Pohdinta numero 6" not in page_two["text"]
    assert button_data(page_two, "p:0")


async def test_delete_one_from_own_list(h: Harness) -> None:
    finished = await reflect(h, A, A_FIRST)
    rid = rid_of(h, finished)
    _, status = await h.press(A, finished, f"o:{rid}", replies=2)
    (ask,) = await h.press(A, status, button_data(status, f"dl:{rid}"))
    (done,) = await h.press(A, ask, button_data(ask, f"dc:{rid}"))
    assert done["text"] == fi(h).text("deleted")
    (listing,) = await h.say(A, "/omat")
    assert listing["text"] == fi(h).text("own_empty")


async def scaled_reflection(h: Harness, user: FakeUser, value: int) -> dict[str, Any]:
    """A reflection on the well-being theme that reaches the scale and answers `value`."""
    (opening,) = await h.say(user, "/pohdi")
    if "kesken" in opening["text"]:
        (opening,) = await h.press(user, opening, "N")
    (last,) = await h.press(user, opening, button_data(opening, ":t:hyvinvointi"))
    for text in ("Jaksaminen vaihtelee.", "Tauot auttavat.", "Kollegat tukevat.", "Hyvä."):
        if any(d.endswith(f":s:{value}") for d in buttons(last).values()):
            break
        (last,) = await h.say(user, text)
    (last,) = await h.press(user, last, button_data(last, f":s:{value}"))
    _, closing = await h.press(user, last, button_data(last, ":enough"), replies=2)
    (finished,) = await h.press(user, closing, button_data(closing, ":skip"))
    return finished


async def test_scale_answers_over_time_for_worker_and_supervisor(h: Harness) -> None:
    first = await scaled_reflection(h, A, 4)
    await scaled_reflection(h, A, 7)
    (listing,) = await h.say(A, "/omat")
    assert "Asteikkoarviosi ajan mittaan" in listing["text"]
    assert "Työhyvinvointi: ▄▆" in listing["text"]
    # the supervisor sees only the shared one's value
    await share(h, A, first)
    (notice,) = await h.standin.wait_outgoing(SUPERVISOR.id)
    open_data = next(iter(buttons(notice).values()))
    _, trend = await h.press(SUPERVISOR, notice, open_data, replies=2)
    assert "Työhyvinvointi: ▄  (" in trend["text"] and "▆" not in trend["text"]
