"""The API's Literal types list the closed vocabularies as core.vocabulary (and accounts) define them."""

from __future__ import annotations

from typing import get_args

import pytest

from accounts import LOCALES
from api import vocabulary
from api.console.i18n import LANGUAGES
from core import vocabulary as core_vocabulary


@pytest.mark.parametrize(
    ("literal", "values"),
    [
        (vocabulary.LampState, core_vocabulary.LAMP_STATES),
        (vocabulary.Technology, core_vocabulary.TECHNOLOGIES),
        (vocabulary.EventSource, core_vocabulary.EVENT_SOURCES),
        (vocabulary.WorkOrderSource, core_vocabulary.WORK_ORDER_SOURCES),
        (vocabulary.WorkOrderStatus, core_vocabulary.WORK_ORDER_STATUSES),
        (vocabulary.Outcome, core_vocabulary.WORK_ORDER_OUTCOMES),
        (vocabulary.Locale, LOCALES),
        (vocabulary.Locale, LANGUAGES),
    ],
)
def test_each_literal_lists_its_vocabulary_in_order(literal, values):
    assert get_args(literal) == tuple(values)
