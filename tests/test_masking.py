"""Sensitive fields: masked in every text form of a document, stored for real, shown on request."""

import json
import logging
import pprint
import traceback
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ValidationError
from rich.pretty import pretty_repr

import mdocument
from mdocument import REVEAL, Document, Field, FieldSpec, Index, init, reveal
from mdocument.masking import mask_filter, sensitive_path

EMAIL = "ada.s3cret@example.com"
PIN = 864209753
CODES = ["rc-s3cret-one", "rc-s3cret-two"]
CARD = "4970-s3cret-1234"
OLD_CARD = "5133-s3cret-9876"
API_KEY = "key-s3cret-abcdef"
SECRETS = [EMAIL, str(PIN), *CODES, CARD, OLD_CARD, API_KEY]


class Card(BaseModel):
    """A plain pydantic model, nested in a document."""

    holder: str
    number: str = Field(sensitive=True)


class Account(Document):
    login: str = Field(unique=True)
    email: str = Field(unique=True, sensitive=True)
    pin: int | None = Field(default=None, sensitive=True)
    recovery_codes: list[str] = Field(default_factory=list, sensitive=True)
    card: Card | None = None
    old_cards: list[Card] = Field(default_factory=list)
    # Sensitive through its type, with a default and examples given to Field().
    api_key: Annotated[str, FieldSpec(sensitive=True)] = Field(
        default="default-key-s3cret", examples=["example-key-s3cret"]
    )
    note: str = Field(default="", examples=["a note"])


class Team(BaseModel):
    """A plain model holding documents, as a FastAPI response model might."""

    lead: Account
    members: list[Account]
    by_login: dict[str, Account]


def account(login: str = "ada", **changes: Any) -> Account:
    values: dict[str, Any] = {
        "login": login,
        "email": EMAIL,
        "pin": PIN,
        "recovery_codes": CODES,
        "card": Card(holder="Ada", number=CARD),
        "old_cards": [Card(holder="Ada", number=OLD_CARD)],
        "api_key": API_KEY,
    }
    return Account(**{**values, **changes})


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# -- JSON output -------------------------------------------------------------------------------


def test_json_dump_masks_every_sensitive_value():
    data = account().model_dump(mode="json")
    assert data["login"] == "ada"
    assert data["email"] == Document.SENSITIVE_PLACEHOLDER == "***"
    assert data["pin"] == "***"
    assert data["recovery_codes"] == "***"
    assert data["api_key"] == "***"
    assert data["card"] == {"holder": "Ada", "number": "***"}
    assert data["old_cards"] == [{"holder": "Ada", "number": "***"}]
    assert_no_secret(json.dumps(data))


def test_model_dump_json_masks_like_the_json_dump():
    doc = account()
    text = doc.model_dump_json()
    assert_no_secret(text)
    assert json.loads(text) == doc.model_dump(mode="json")


def test_the_placeholder_is_public_and_the_same_everywhere():
    assert mdocument.SENSITIVE_PLACEHOLDER == Account.SENSITIVE_PLACEHOLDER == "***"


def test_python_mode_dump_is_the_storage_form_with_real_values():
    data = account().model_dump()
    assert data["email"] == EMAIL
    assert data["card"]["number"] == CARD


def test_none_shows_as_null_so_unset_differs_from_set():
    data = account(pin=None, card=None).model_dump(mode="json")
    assert data["pin"] is None
    assert '"pin":null' in account(pin=None).model_dump_json()


def test_empty_values_are_set_values_and_are_masked():
    data = account(email="", recovery_codes=[], pin=0).model_dump(mode="json")
    assert data["email"] == "***"
    assert data["recovery_codes"] == "***"
    assert data["pin"] == "***"


def test_documents_nested_in_models_lists_and_dicts_are_masked():
    ada, bob = account("ada"), account("bob")
    team = Team(lead=ada, members=[ada, bob], by_login={"bob": bob})
    data = team.model_dump(mode="json")
    assert data["lead"]["email"] == "***"
    assert [member["email"] for member in data["members"]] == ["***", "***"]
    assert data["by_login"]["bob"]["card"]["number"] == "***"
    assert_no_secret(team.model_dump_json())


# -- storage -----------------------------------------------------------------------------------


async def test_the_stored_value_is_the_real_one(database):
    await init(database, models=[Account])
    doc = await account().save()
    raw = await database["account"].find_one({"_id": doc.id})
    assert raw["email"] == EMAIL
    assert raw["pin"] == PIN
    assert raw["recovery_codes"] == CODES
    assert raw["api_key"] == API_KEY
    assert raw["card"]["number"] == CARD
    loaded = await Account.get(doc.id)
    assert loaded.email == EMAIL
    assert loaded.model_dump(mode="json")["email"] == "***"


async def test_queries_on_sensitive_fields_use_the_real_value(database):
    await init(database, models=[Account])
    await account().save()
    assert (await Account.one({"email": EMAIL})).login == "ada"


# -- revealing ---------------------------------------------------------------------------------


def test_reveal_context_shows_values_for_that_call_only():
    doc = account()
    shown = doc.model_dump(mode="json", context={"reveal": True})
    assert shown["email"] == EMAIL
    assert shown["pin"] == PIN
    assert shown["card"]["number"] == CARD
    assert shown["api_key"] == API_KEY
    assert doc.model_dump(mode="json")["email"] == "***"  # nothing global changed
    assert json.loads(doc.model_dump_json(context=REVEAL))["recovery_codes"] == CODES


def test_reveal_helper_shows_values_and_takes_dump_arguments():
    doc = account()
    assert reveal(doc)["email"] == EMAIL
    assert reveal(doc, include={"email", "login"}) == {"login": "ada", "email": EMAIL}
    assert reveal(doc, context={"other": 1})["email"] == EMAIL
    assert doc.model_dump(mode="json")["email"] == "***"


def test_reveal_reaches_documents_nested_in_other_models():
    team = Team(lead=account(), members=[], by_login={})
    assert reveal(team)["lead"]["card"]["number"] == CARD


def test_a_false_reveal_flag_masks():
    assert account().model_dump(mode="json", context={"reveal": False})["email"] == "***"


# -- repr, str, logs ---------------------------------------------------------------------------


def test_repr_and_str_never_show_sensitive_values():
    doc = account()
    for text in (repr(doc), str(doc), f"{doc}", f"{doc!r}", pprint.pformat(doc), pretty_repr(doc)):
        assert_no_secret(text)
    assert "email='***'" in repr(doc)
    assert "login='ada'" in repr(doc)


def test_repr_shows_none_for_an_unset_sensitive_value():
    assert "pin=None" in repr(account(pin=None))


def test_repr_of_models_holding_documents_never_shows_sensitive_values():
    team = Team(lead=account(), members=[account("bob")], by_login={"x": account("x")})
    assert_no_secret(repr(team))
    assert_no_secret(str(team))
    assert_no_secret(repr([account(), account("bob")]))


def test_logging_a_document_never_shows_sensitive_values(caplog):
    logger = logging.getLogger("tests.masking")
    doc = account()
    with caplog.at_level(logging.INFO, logger="tests.masking"):
        logger.info("saved %s", doc)
        logger.info("saved %r", doc)
        logger.info(doc)
        logger.info("team %s", Team(lead=doc, members=[doc], by_login={}))
        logger.info("as json %s", doc.model_dump_json())
    assert len(caplog.records) == 5
    assert "***" in caplog.text
    assert_no_secret(caplog.text)


# -- errors ------------------------------------------------------------------------------------


async def test_duplicate_error_on_a_sensitive_field_never_shows_the_value(database, caplog):
    await init(database, models=[Account])
    await account("ada").save()
    with pytest.raises(Account.DuplicateError) as caught:
        await account("bob").save()  # same email
    error = caught.value
    assert error.fields == ("email",)
    assert error.value == "***"
    assert "email" in str(error)
    printed = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    for text in (str(error), repr(error), repr(error.args), printed):
        assert EMAIL not in text
    with caplog.at_level(logging.ERROR):
        logging.getLogger("tests.masking").exception("signup failed", exc_info=error)
    assert "DuplicateError" in caplog.text
    assert EMAIL not in caplog.text


class Badge(Document):
    team: str
    holder_email: str = Field(sensitive=True)

    class Meta:
        indexes = [Index([("team", 1), ("holder_email", 1)], unique=True)]


async def test_duplicate_on_a_compound_index_masks_only_the_sensitive_part(database):
    await init(database, models=[Badge])
    await Badge.create(team="red", holder_email=EMAIL)
    with pytest.raises(Badge.DuplicateError) as caught:
        await Badge.create(team="red", holder_email=EMAIL)
    assert caught.value.value == {"team": "red", "holder_email": "***"}
    assert EMAIL not in str(caught.value)
    assert "'red'" in str(caught.value)


async def test_not_found_error_masks_sensitive_values_of_the_query(database):
    await init(database, models=[Account])
    with pytest.raises(Account.NotFoundError) as caught:
        await Account.one({"email": EMAIL, "login": "nobody"})
    assert EMAIL not in str(caught.value)
    assert EMAIL not in repr(caught.value.query)
    assert "'nobody'" in str(caught.value)


def test_validation_errors_never_show_sensitive_input():
    with pytest.raises(ValidationError) as caught:
        Account(login="ada", email=EMAIL, pin="pin-s3cret-not-a-number")
    assert "pin" in str(caught.value)
    for text in (str(caught.value), repr(caught.value)):
        assert "pin-s3cret-not-a-number" not in text
        assert EMAIL not in text


def test_validation_errors_of_nested_models_never_show_their_input():
    with pytest.raises(ValidationError) as caught:
        Account(login="ada", email="x", card={"holder": "Ada", "number": 987654321012})
    assert "card.number" in str(caught.value)
    assert "987654321012" not in str(caught.value)


def test_validation_errors_of_json_input_never_show_sensitive_input():
    payload = json.dumps({"login": "ada", "email": ["list-s3cret"], "pin": "x"})
    with pytest.raises(ValidationError) as caught:
        Account.model_validate_json(payload)
    assert "list-s3cret" not in str(caught.value)


def test_assignment_errors_never_show_the_value():
    doc = account()
    with pytest.raises(ValidationError) as caught:
        doc.pin = "assigned-s3cret"  # type: ignore[assignment]
    assert "assigned-s3cret" not in str(caught.value)
    assert doc.pin == PIN


# -- JSON Schema -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_sensitive_fields_are_write_only_in_json_schema(mode):
    schema = Account.model_json_schema(mode=mode)
    properties = schema["properties"]
    for name in ("email", "pin", "recovery_codes", "api_key"):
        assert properties[name]["writeOnly"] is True, name
    for name in ("login", "card", "note", "id"):
        assert "writeOnly" not in properties[name], name
    card = schema["$defs"]["Card"]["properties"]
    assert card["number"]["writeOnly"] is True
    assert "writeOnly" not in card["holder"]


@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_json_schema_shows_no_default_or_example_of_a_sensitive_field(mode):
    schema = Account.model_json_schema(mode=mode)
    api_key = schema["properties"]["api_key"]
    assert "default" not in api_key
    assert "examples" not in api_key
    assert "s3cret" not in json.dumps(schema)
    assert schema["properties"]["note"]["examples"] == ["a note"]  # others keep theirs


def test_sensitive_field_keeps_its_other_json_schema_extras():
    class Token(BaseModel):
        value: str = Field(
            default="tok-s3cret",
            sensitive=True,
            description="An API token.",
            examples=["tok-example"],
            json_schema_extra={"format": "password", "example": "tok-legacy"},
        )
        computed: str = Field(
            default="x", sensitive=True, json_schema_extra=lambda s: s.update(a=1)
        )

    properties = Token.model_json_schema()["properties"]
    assert properties["value"] == {
        "description": "An API token.",
        "format": "password",
        "title": "Value",
        "type": "string",
        "writeOnly": True,
    }
    assert properties["computed"]["a"] == 1
    assert properties["computed"]["writeOnly"] is True


def test_sensitive_field_is_hidden_from_repr_of_plain_models():
    text = repr(Card(holder="Ada", number=CARD))
    assert CARD not in text
    assert "holder='Ada'" in text


# -- paths and filters in messages -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "sensitive"),
    [
        ("email", True),
        ("pin", True),
        ("recovery_codes.0", True),
        ("card.number", True),
        ("card", True),  # a whole card shows its number
        ("old_cards.$.number", True),
        ("old_cards", True),
        ("card.holder", False),
        ("old_cards.0.holder", False),
        ("login", False),
        ("_id", False),
        ("note", False),
        ("unknown.path", False),
    ],
)
def test_sensitive_path_follows_nested_models_and_lists(path, sensitive):
    assert sensitive_path(Account, path) is sensitive


def test_mask_filter_masks_sensitive_paths_inside_logical_operators():
    query = {
        "login": "ada",
        "email": EMAIL,
        "card.number": CARD,
        "$or": [{"pin": PIN}, {"login": "bob"}, {"$and": [{"card": {"number": CARD}}]}],
        "$nor": [{"recovery_codes": {"$in": CODES}}],
        "$comment": "from the admin page",
        "pin": None,
    }
    assert mask_filter(query, Account) == {
        "login": "ada",
        "email": "***",
        "card.number": "***",
        "$or": [{"pin": "***"}, {"login": "bob"}, {"$and": [{"card": {"number": "***"}}]}],
        "$nor": [{"recovery_codes": "***"}],
        "$comment": "from the admin page",
        "pin": None,
    }


def test_mask_filter_masks_operators_that_may_compare_any_field():
    assert mask_filter({"$expr": {"$eq": ["$email", EMAIL]}}, Account) == {"$expr": "***"}

    class Counter(BaseModel):
        count: int

    harmless = {"$expr": {"$gt": ["$count", 1]}}
    assert mask_filter(harmless, Counter) == harmless  # nothing to hide
